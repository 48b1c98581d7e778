// quadflow CUDA gather kernel: tiles' padded rectangles copied from the canvas into their batch slots, mirror-reflected
// outside it.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/kernels/gather.cuh needs nvcc"
#endif

#include <cstdint>

#include "quadflow/core/config.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/detail/kernel.cuh"

namespace quadflow::cuda::kernels {

QUADFLOW_DEVICE inline std::int64_t reflect_if_outside(std::int64_t i, std::int64_t n) {
    return i >= 0 && i < n ? i : reflect_index(i, n);
}

/// Block (tile k of `placed`, channel c): copies the tile's padded rectangle of plane c into its slot.
template <class Value>
QUADFLOW_KERNEL void gather_tiles(const Value* x, std::int32_t width, std::int32_t height, const device_tile* tiles,
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

/// Block (tile k of `placed`, channel c of an auxiliary image at `scale` px per latent px of the width x height
/// canvas): copies the tile's padded rectangle times `scale` of plane c into its auxiliary slot (its latent slot /
/// latent_channels * channels * scale^2), reflected as reflect_scaled_index does.
template <class Value>
QUADFLOW_KERNEL void gather_auxiliary(const Value* aux, std::int32_t width, std::int32_t height, std::int32_t scale,
                                      std::int32_t latent_channels, std::int32_t channels, const device_tile* tiles,
                                      const tile_step* steps, const std::int32_t* placed, Value* batch) {
    const std::int32_t t = placed[blockIdx.x];
    const std::int64_t c = blockIdx.y;
    const device_tile tile = tiles[t];
    const std::int64_t w = std::int64_t{tile.w} * scale, h = std::int64_t{tile.h} * scale;
    const std::int64_t aux_width = std::int64_t{width} * scale, aux_height = std::int64_t{height} * scale;
    Value* out = batch + steps[t].slot / latent_channels * channels * scale * scale + c * w * h;
    const Value* plane = aux + c * aux_width * aux_height;
    for (std::int64_t ly = threadIdx.y; ly < h; ly += blockDim.y) {
        const Value* row = plane + reflect_scaled_index(std::int64_t{tile.y} * scale + ly, height, scale) * aux_width;
        for (std::int64_t lx = threadIdx.x; lx < w; lx += blockDim.x)
            out[ly * w + lx] = row[reflect_scaled_index(std::int64_t{tile.x} * scale + lx, width, scale)];
    }
}

}  // namespace quadflow::cuda::kernels
