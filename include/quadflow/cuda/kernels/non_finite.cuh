// quadflow CUDA non-finite search kernels: after a blend raised the flag, the first non-finite model velocity (smallest
// key) and its record.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/kernels/non_finite.cuh needs nvcc"
#endif

#include <cstdint>

#include "quadflow/core/config.hpp"
#include "quadflow/core/finite.hpp"
#include "quadflow/cuda/blend_arguments.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/detail/kernel.cuh"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::cuda::kernels {

/// This thread's share of plane c of tile t: the smallest key of a non-finite model velocity among its
/// in-canvas elements, or `found` if smaller (the velocity as the blend computes it: state from `x`, 0 where
/// `x` is null).
template <class Value>
QUADFLOW_DEVICE unsigned long long smallest_non_finite_key(const Value* model_output, const Value* x,
                                                           std::int32_t width, std::int32_t height,
                                                           const device_tile& tile, std::int32_t t, std::int64_t slot,
                                                           std::int64_t c, prediction::kind kind, float sigma,
                                                           unsigned long long found) {
    const std::int64_t tile_plane = std::int64_t(tile.w) * tile.h;
    const Value* out = model_output + slot + c * tile_plane;
    for (std::int32_t ly = threadIdx.y; ly < tile.h; ly += blockDim.y) {
        const std::int32_t py = tile.y + ly;
        if (py < 0 || py >= height) continue;
        for (std::int32_t lx = threadIdx.x; lx < tile.w; lx += blockDim.x) {
            const std::int32_t px = tile.x + lx;
            if (px < 0 || px >= width) continue;
            const std::int64_t local = std::int64_t(ly) * tile.w + lx;
            const float state = x ? x[(c * height + py) * width + px] : 0.0f;
            if (!quadflow::detail::non_finite_bit(prediction::to_flow_velocity(kind, out[local], state, sigma)))
                continue;
            const auto key = (static_cast<unsigned long long>(t) << non_finite_offset_bits) |
                             static_cast<unsigned long long>(c * tile_plane + local);
            found = key < found ? key : found;
        }
    }
    return found;
}

/// After a blend that cleared none_found and before any image was captured: the smallest key of a non-finite
/// model velocity among the in-canvas elements of the `placed_count` tiles of `placed`. Each block takes
/// (tile, channel) planes in turn; when nothing was found every block returns at once, so the grid stays small.
template <class Value>
QUADFLOW_KERNEL void find_non_finite(non_finite_record* record, const Value* model_output, const Value* x,
                                     std::int32_t width, std::int32_t height, std::int32_t channels,
                                     const device_tile* tiles, const tile_step* steps, const std::int32_t* placed,
                                     std::int64_t placed_count, prediction::kind kind, float sigma) {
    if (record->none_found != 0 || record->first != no_non_finite) return;
    unsigned long long found = no_non_finite;
    for (std::int64_t plane = blockIdx.x; plane < placed_count * channels; plane += gridDim.x) {
        const std::int32_t t = placed[plane / channels];
        found = smallest_non_finite_key(model_output, x, width, height, tiles[t], t, steps[t].slot, plane % channels,
                                        kind, sigma, found);
    }
    if (found != no_non_finite) atomicMin(&record->key, found);
}

/// One thread: if the image just blended had a non-finite velocity and none was captured before, records
/// its key, image, model output and state (before later images overwrite the batch buffer).
template <class Value>
QUADFLOW_KERNEL void capture_non_finite(non_finite_record* record, std::int32_t image, const Value* model_output,
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

}  // namespace quadflow::cuda::kernels
