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

}  // namespace quadflow::cuda::kernels
