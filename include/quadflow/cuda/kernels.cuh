// quadflow CUDA kernels: tile gather with mirror reflection, the fused deterministic tile blend, the Euler update.
//
// The blend is a gather: one thread per canvas pixel and group of channels walks the tiles listed for its
// pixel block (blend_tables.coverage, tile index order), and for each tile that contains the pixel adds
//   w * policy velocity(model velocity converted from the prediction, state, original, strength)
// then multiplies by 1 / (sum of weights). Nothing is accumulated with atomics, so the same inputs give
// the same bits whatever the launch order. Per-element math is the CPU field's own host-device functions:
// prediction::to_flow_velocity, policy velocities, the blend_plan's weight factors, sampler::euler_update.
// Kernels are templates on the value type (float) so that this header can be included in several
// translation units.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/kernels.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "quadflow/core/rect.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/error.cuh"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"
#include "quadflow/sampler/euler_math.hpp"

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
    unsigned long long key = no_non_finite;    ///< smallest key of the image being blended
    unsigned long long first = no_non_finite;  ///< key of the first image that had one
    std::int32_t image = 0;                    ///< that image
    float prediction = 0.0f;                   ///< the model output there
    float state = 0.0f;                        ///< the canvas state there
};

/// Channels one blend thread handles (its tile walk is shared by them).
inline constexpr int blend_channels_per_thread = 4;

/// Inputs of one blend of one image. Canvas tensors are that image's C x H x W planes.
struct blend_arguments {
    const float* x = nullptr;           ///< state; null when no term reads it (flow-velocity model, no preservation)
    const float* original = nullptr;    ///< clean original; null when no term reads it
    const float* strength = nullptr;    ///< per-pixel strength H x W (mask policy), or null
    const float* model_output = nullptr;  ///< the batch buffer; tile t's output at steps[t].slot
    float* velocity = nullptr;          ///< written: the blended flow velocity
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

namespace kernels {

QUADFLOW_DEVICE inline bool non_finite(float v) {
    constexpr unsigned exponent = 0x7f800000u;  // NaN/Inf: exponent bits all ones
    return (__float_as_uint(v) & exponent) == exponent;
}

QUADFLOW_DEVICE inline std::int64_t reflect_if_outside(std::int64_t i, std::int64_t n) {
    return i >= 0 && i < n ? i : reflect_index(i, n);
}

/// Block (tile k of `placed`, channel c): copies the tile's padded rectangle of plane c into its slot.
template <class Value>
__global__ void gather_tiles(const Value* x, std::int32_t width, std::int32_t height, const device_tile* tiles,
                             const tile_step* steps, const std::int32_t* placed, Value* batch) {
    const std::int32_t t = placed[blockIdx.x];
    const std::int64_t c = blockIdx.y;
    const device_tile tile = tiles[t];
    Value* out = batch + steps[t].slot + c * tile.w * tile.h;
    const Value* plane = x + c * width * height;
    for (std::int32_t ly = threadIdx.y; ly < tile.h; ly += blockDim.y) {
        const Value* row = plane + reflect_if_outside(tile.y + ly, height) * width;
        for (std::int32_t lx = threadIdx.x; lx < tile.w; lx += blockDim.x)
            out[std::int64_t(ly) * tile.w + lx] = row[reflect_if_outside(tile.x + lx, width)];
    }
}

/// One thread per pixel of a blend block and group of blend_channels_per_thread channels (grid z).
template <class Policy>
__global__ void __launch_bounds__(blend_block_width * blend_block_height) blend_tiles(const blend_arguments a,
                                                                                      const Policy policy) {
    constexpr int K = blend_channels_per_thread;
    const std::int32_t px = blockIdx.x * blockDim.x + threadIdx.x;
    const std::int32_t py = blockIdx.y * blockDim.y + threadIdx.y;
    if (px >= a.width || py >= a.height) return;
    const std::int32_t c0 = blockIdx.z * K;
    const std::int64_t plane = std::int64_t(a.width) * a.height;
    const std::int64_t pixel = std::int64_t(py) * a.width + px;

    float state[K], original[K], sum[K];
#pragma unroll
    for (int j = 0; j < K; ++j) {
        const bool present = c0 + j < a.channels;
        state[j] = present && a.x ? a.x[(c0 + j) * plane + pixel] : 0.0f;
        original[j] = present && a.original ? a.original[(c0 + j) * plane + pixel] : 0.0f;
        sum[j] = 0.0f;
    }
    const float pixel_strength = a.strength ? a.strength[pixel] : 0.0f;
    unsigned long long first_non_finite = no_non_finite;

    const std::int32_t block = blockIdx.y * gridDim.x + blockIdx.x;
    const std::int32_t end = a.block_offsets[block + 1];
    for (std::int32_t k = a.block_offsets[block]; k < end; ++k) {
        const std::int32_t t = a.block_tiles[k];
        const device_tile tile = a.tiles[t];
        const std::int32_t lx = px - tile.x, ly = py - tile.y;
        if (lx < 0 || lx >= tile.w || ly < 0 || ly >= tile.h) continue;
        const float weight = a.axis_weights[tile.row_weights + ly] * a.axis_weights[tile.column_weights + lx];
        const tile_step step = a.steps[t];
        const std::int64_t tile_plane = std::int64_t(tile.w) * tile.h;
        const std::int64_t local = std::int64_t(ly) * tile.w + lx;
        const float* predicted = step.slot >= 0 ? a.model_output + step.slot + local : nullptr;
        policy::tile_context context{};
        if constexpr (!policy::linear_policy<Policy>) context = a.contexts[t];
#pragma unroll
        for (int j = 0; j < K; ++j) {
            if (c0 + j >= a.channels) break;
            const float vm = predicted ? prediction::to_flow_velocity(a.kind, predicted[(c0 + j) * tile_plane], state[j], a.sigma)
                                       : 0.0f;
            if (non_finite(vm)) {
                const auto key = (static_cast<unsigned long long>(t) << non_finite_offset_bits) |
                                 static_cast<unsigned long long>((c0 + j) * tile_plane + local);
                first_non_finite = key < first_non_finite ? key : first_non_finite;
            }
            const policy::element e{vm, state[j], original[j], a.strength ? pixel_strength : context.denoise};
            float v;
            if constexpr (policy::linear_policy<Policy>)
                v = step.linear(e);
            else
                v = policy.velocity(context, e);
            sum[j] += weight * v;
        }
    }
    const float inverse = a.inverse_weight_sum[pixel];
#pragma unroll
    for (int j = 0; j < K; ++j)
        if (c0 + j < a.channels) a.velocity[(c0 + j) * plane + pixel] = sum[j] * inverse;
    if (first_non_finite != no_non_finite) atomicMin(&a.non_finite->key, first_non_finite);
}

/// One thread: if the image just blended had a non-finite velocity and none was captured before, records
/// its key, image, model output and state (before later images overwrite the batch buffer).
template <class Value>
__global__ void capture_non_finite(non_finite_record* record, std::int32_t image, const Value* model_output,
                                   const device_tile* tiles, const tile_step* steps, const Value* x,
                                   std::int32_t width, std::int32_t height) {
    const unsigned long long key = record->key;
    if (key == no_non_finite || record->first != no_non_finite) return;
    const auto t = static_cast<std::int64_t>(key >> non_finite_offset_bits);
    const auto local = static_cast<std::int64_t>(key & ((1ull << non_finite_offset_bits) - 1));
    const device_tile tile = tiles[t];
    const std::int64_t tile_plane = std::int64_t(tile.w) * tile.h;
    const std::int64_t c = local / tile_plane, ly = (local % tile_plane) / tile.w, lx = local % tile.w;
    record->first = key;
    record->image = image;
    record->prediction = model_output[steps[t].slot + local];
    record->state = x[c * width * height + (tile.y + ly) * width + (tile.x + lx)];
}

template <class Value>
__global__ void euler_step(Value* x, const Value* velocity, std::int64_t count, Value dt) {
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count; i += std::int64_t(gridDim.x) * blockDim.x)
        x[i] = sampler::euler_update(x[i], velocity[i], dt);
}

/// x = keep * original + sigma * noise with keep = float(1 - sigma), as sampler::noised_original computes it.
template <class Value>
__global__ void noised_original(const Value* original, const Value* noise, std::int64_t count, Value keep, Value sigma,
                                Value* out) {
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count; i += std::int64_t(gridDim.x) * blockDim.x)
        out[i] = keep * original[i] + sigma * noise[i];
}

}  // namespace kernels

/// Blocks for an elementwise grid-stride kernel of 256 threads over `count` elements.
inline unsigned elementwise_blocks(std::int64_t count) {
    return static_cast<unsigned>(std::clamp<std::int64_t>((count + 255) / 256, 1, std::int64_t{1} << 20));
}

/// Copies the padded rectangles of the `placed_count` tiles listed in `placed` (device) from the image
/// `x` (C x height x width, device) into their slots of `batch`, reflecting outside the canvas.
inline void gather_tiles(const float* x, std::int64_t width, std::int64_t height, std::int64_t channels,
                         const device_tile* tiles, const tile_step* steps, const std::int32_t* placed,
                         std::int64_t placed_count, float* batch, cudaStream_t stream) {
    if (placed_count == 0) return;
    const dim3 grid(static_cast<unsigned>(placed_count), static_cast<unsigned>(channels));
    kernels::gather_tiles<float><<<grid, dim3(32, 8), 0, stream>>>(x, static_cast<std::int32_t>(width),
                                                                   static_cast<std::int32_t>(height), tiles, steps,
                                                                   placed, batch);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::gather_tiles");
}

/// The fused blend of one image: accumulate every covering tile's weighted policy velocity, normalise.
/// `blocks_x`, `blocks_y`: the coverage's block grid (blend_block_width x blend_block_height pixels).
template <policy::velocity_policy Policy>
void blend_tiles(const blend_arguments& arguments, std::int64_t blocks_x, std::int64_t blocks_y, const Policy& policy,
                 cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(blocks_y),
                    static_cast<unsigned>((arguments.channels + blend_channels_per_thread - 1) / blend_channels_per_thread));
    const dim3 block(static_cast<unsigned>(blend_block_width), static_cast<unsigned>(blend_block_height));
    kernels::blend_tiles<Policy><<<grid, block, 0, stream>>>(arguments, policy);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::blend_tiles");
}

inline void capture_non_finite(non_finite_record* record, std::int64_t image, const float* model_output,
                               const device_tile* tiles, const tile_step* steps, const float* x, std::int64_t width,
                               std::int64_t height, cudaStream_t stream) {
    kernels::capture_non_finite<float><<<1, 1, 0, stream>>>(record, static_cast<std::int32_t>(image), model_output,
                                                            tiles, steps, x, static_cast<std::int32_t>(width),
                                                            static_cast<std::int32_t>(height));
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::capture_non_finite");
}

/// x += dt * velocity over `count` device elements (sampler::euler_update per element).
inline void euler_step(float* x, const float* velocity, std::int64_t count, float dt, cudaStream_t stream) {
    if (count == 0) return;
    kernels::euler_step<float><<<elementwise_blocks(count), 256, 0, stream>>>(x, velocity, count, dt);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::euler_step");
}

/// out = (1 - sigma) * original + sigma * noise over `count` device elements (the img2img start).
inline void noised_original(const float* original, const float* noise, std::int64_t count, double sigma, float* out,
                            cudaStream_t stream) {
    if (count == 0) return;
    kernels::noised_original<float><<<elementwise_blocks(count), 256, 0, stream>>>(
        original, noise, count, static_cast<float>(1.0 - sigma), static_cast<float>(sigma), out);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::noised_original");
}

}  // namespace quadflow::cuda
