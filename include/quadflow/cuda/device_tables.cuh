// quadflow CUDA blend tables on the device: one upload of blend_tables per layout, and blend arguments pointing at
// them.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/device_tables.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <cstdint>
#include <span>

#include "quadflow/cuda/blend_arguments.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/memory.cuh"

namespace quadflow::cuda {

class device_blend_tables {
public:
    device_blend_tables() = default;
    /// Allocates the device tables and enqueues their upload on `stream` (the host tables may be
    /// destroyed once this returns: copies from pageable memory are staged before the call returns).
    device_blend_tables(const blend_tables& tables, cudaStream_t stream)
        : width_(tables.width), height_(tables.height), blocks_x_(tables.coverage.blocks_x),
          blocks_y_(tables.coverage.blocks_y), tile_count_(static_cast<std::int64_t>(tables.tiles.size())),
          tiles_(tables.tiles.size()), axis_weights_(tables.axis_weights.size()),
          inverse_weight_sum_(tables.inverse_weight_sum.size()), block_offsets_(tables.coverage.offsets.size()),
          block_tiles_(tables.coverage.tiles.size()) {
        tiles_.upload(std::span<const device_tile>(tables.tiles), stream);
        axis_weights_.upload(std::span<const float>(tables.axis_weights), stream);
        inverse_weight_sum_.upload(std::span<const float>(tables.inverse_weight_sum), stream);
        block_offsets_.upload(std::span<const std::int32_t>(tables.coverage.offsets), stream);
        block_tiles_.upload(std::span<const std::int32_t>(tables.coverage.tiles), stream);
    }

    std::int64_t width() const { return width_; }
    std::int64_t height() const { return height_; }
    std::int64_t blocks_x() const { return blocks_x_; }
    std::int64_t blocks_y() const { return blocks_y_; }
    std::int64_t tile_count() const { return tile_count_; }
    const device_tile* tiles() const { return tiles_.data(); }
    /// Bytes of the tables (what a blend reads besides tensors, at most once per block).
    std::int64_t bytes() const {
        return static_cast<std::int64_t>(tiles_.bytes() + axis_weights_.bytes() + inverse_weight_sum_.bytes() +
                                         block_offsets_.bytes() + block_tiles_.bytes());
    }

    /// Blend arguments with the tables and the canvas size filled in; the caller sets the tensors, the
    /// per-evaluation steps (and contexts), the prediction kind, sigma and the non-finite record.
    blend_arguments arguments(std::int64_t channels) const {
        blend_arguments a;
        a.inverse_weight_sum = inverse_weight_sum_.data();
        a.axis_weights = axis_weights_.data();
        a.tiles = tiles_.data();
        a.block_offsets = block_offsets_.data();
        a.block_tiles = block_tiles_.data();
        a.width = static_cast<std::int32_t>(width_);
        a.height = static_cast<std::int32_t>(height_);
        a.channels = static_cast<std::int32_t>(channels);
        return a;
    }

private:
    std::int64_t width_ = 0, height_ = 0, blocks_x_ = 0, blocks_y_ = 0, tile_count_ = 0;
    device_buffer<device_tile> tiles_;
    device_buffer<float> axis_weights_;
    device_buffer<float> inverse_weight_sum_;
    device_buffer<std::int32_t> block_offsets_;
    device_buffer<std::int32_t> block_tiles_;
};

}  // namespace quadflow::cuda
