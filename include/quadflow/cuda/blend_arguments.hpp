// quadflow CUDA blend arguments (host-safe, no CUDA): what a blend kernel reads, and the record of the first non-finite
// model velocity.
#pragma once

#include <cstdint>

#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::cuda {

/// "Nothing found" in a non_finite_record key (all bits set).
inline constexpr unsigned long long no_non_finite = ~0ull;
/// A non-finite model velocity is keyed by (tile index << 40) | (element offset in the tile's C x h x w
/// output); the smallest key wins (an integer atomicMin, so the reported element does not depend on timing).
inline constexpr int non_finite_offset_bits = 40;
inline constexpr std::int64_t max_blend_tiles = std::int64_t{1} << (64 - non_finite_offset_bits);
inline constexpr std::int64_t max_tile_elements = std::int64_t{1} << non_finite_offset_bits;

/// Where the first non-finite model velocity of an evaluation was found (device memory).
struct non_finite_record {
    std::uint32_t none_found = ~0u;            ///< cleared to 0 by a blend that met a non-finite model velocity
    unsigned long long key = no_non_finite;    ///< smallest key of the image being blended
    unsigned long long first = no_non_finite;  ///< key of the first image that had one
    std::int32_t image = 0;                    ///< that image
    float prediction = 0.0f;                   ///< the model output there
    float state = 0.0f;                        ///< the canvas state there
};

/// Inputs of one blend of one image. Canvas tensors are that image's C x H x W planes.
struct blend_arguments {
    const float* x = nullptr;             ///< state; null when no term reads it (flow-velocity model, no preservation)
    const float* original = nullptr;      ///< clean original; null when no term reads it
    const float* strength = nullptr;      ///< per-pixel strength H x W (mask policy), or null
    const float* model_output = nullptr;  ///< the batch buffer; tile t's output at steps[t].slot
    float* velocity = nullptr;            ///< written: the blended flow velocity
    const float* inverse_weight_sum = nullptr;  ///< H x W
    const float* axis_weights = nullptr;
    const device_tile* tiles = nullptr;
    const tile_step* steps = nullptr;
    const policy::tile_context* contexts = nullptr;  ///< per tile; read only by policies without linear()
    const std::int32_t* block_offsets = nullptr;     ///< coverage CSR
    const std::int32_t* block_tiles = nullptr;
    std::int32_t width = 0, height = 0, channels = 0;
    prediction::kind kind = prediction::kind::flow_velocity;
    float sigma = 1.0f;
    non_finite_record* non_finite = nullptr;
};

}  // namespace quadflow::cuda
