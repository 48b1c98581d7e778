// quadflow CUDA blend tables: the flat per-layout data the CUDA kernels read, built on the host (host-safe, no CUDA).
//
// Built once per layout from a field::blend_plan, so the device blend uses the CPU field's own weight factors
// and reciprocal weight sums, value for value:
//   tiles               one device_tile per layout tile: padded rectangle, offsets of its row and column factors
//   axis_weights        every tile's padded.h row factors then padded.w column factors (blend::axis_weight)
//   inverse_weight_sum  1 / (sum of covering weights) per canvas pixel, row-major
//   coverage            per block of blend_tuning::block_width x blend_tuning::block_height pixels, the covering tiles
//   in index
//                       order (cuda::pixel_block_coverage); one CUDA thread block blends one pixel block
// Per evaluation the field adds one tile_step per tile (where its model output sits and its linear velocity).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/cuda/coverage.hpp"
#include "quadflow/field/blend_plan.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::cuda {

/// The blend kernel's tuning in one type, as CUB's dispatch layer picks a tuning type per kernel (named tuning:
/// "policy" is the velocity policies' word here). The coverage tables are built for its pixel blocks.
struct blend_tuning {
    /// Pixels per blend block: one warp along a row, 8 rows; the blend kernel's thread block has this shape.
    static constexpr std::int64_t block_width = 32;
    static constexpr std::int64_t block_height = 8;
    static constexpr int threads = static_cast<int>(block_width * block_height);
    /// Tiles of a block's list staged at once, and covering tiles a thread collects before it reads their outputs.
    static constexpr int window = 64;
    static constexpr int picks = 8;
    /// Covering tiles whose model outputs a thread reads in one pass over the channels.
    static constexpr int chunk = 4;
    /// Channels of those outputs copied to shared memory per stage; two stages are in flight.
    static constexpr int stage_channels = 4;
    /// Shared memory of the two stage buffers of a blend block (chunk x stage_channels floats per thread each), held
    /// in a static array with the window and the picks (under the 48 KiB of static shared memory).
    static constexpr int stage_floats = chunk * stage_channels * threads;
    /// Blend blocks resident per SM the kernel's register budget aims at (64 registers a thread).
    static constexpr int min_blocks = 4;
};

/// A layout tile as the kernels see it.
struct device_tile {
    std::int32_t x = 0, y = 0, w = 0, h = 0;  ///< padded rectangle, canvas latent pixels
    std::int64_t row_weights = 0;             ///< offset of its h row factors in axis_weights
    std::int64_t column_weights = 0;          ///< offset of its w column factors in axis_weights
};

/// What a tile does at one evaluation.
struct tile_step {
    std::int64_t slot = -1;          ///< element offset of its C x h x w model output in the batch buffer; -1: not sent
    policy::linear_velocity linear;  ///< linear policies: its coefficients, the model term 0 when not sent and the
                                     ///< preservation term 0 without an original (as field::tiled_field applies them)
};

struct blend_tables {
    std::int64_t width = 0, height = 0;
    std::vector<device_tile> tiles;
    std::vector<float> axis_weights;
    std::vector<float> inverse_weight_sum;
    cuda::pixel_block_coverage coverage;
};

/// The tables of `layout` blended with `plan` (built for that layout). Throws invalid_argument when the
/// canvas or a tile does not fit the kernels' 32-bit pixel coordinates.
inline blend_tables build_blend_tables(const tile::layout& layout, const field::blend_plan& plan) {
    constexpr std::int64_t limit = std::numeric_limits<std::int32_t>::max();
    require(layout.width * layout.height < limit, "layout",
            std::to_string(layout.width) + "x" + std::to_string(layout.height),
            "the CUDA blend needs fewer than 2^31 pixels per canvas plane");
    blend_tables tables;
    tables.width = layout.width;
    tables.height = layout.height;
    tables.tiles.reserve(layout.tiles.size());
    for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
        const rect& r = layout.tiles[t].padded;
        require(r.x > -limit && r.y > -limit && r.right() < limit && r.bottom() < limit && r.area() < limit,
                "layout.tiles[" + std::to_string(t) + "].padded", to_string(r), "must fit 32-bit pixel coordinates");
        device_tile d;
        d.x = static_cast<std::int32_t>(r.x);
        d.y = static_cast<std::int32_t>(r.y);
        d.w = static_cast<std::int32_t>(r.w);
        d.h = static_cast<std::int32_t>(r.h);
        d.row_weights = static_cast<std::int64_t>(tables.axis_weights.size());
        tables.axis_weights.insert(tables.axis_weights.end(), plan.row_weights(t), plan.row_weights(t) + r.h);
        d.column_weights = static_cast<std::int64_t>(tables.axis_weights.size());
        tables.axis_weights.insert(tables.axis_weights.end(), plan.column_weights(t), plan.column_weights(t) + r.w);
        tables.tiles.push_back(d);
    }
    tables.inverse_weight_sum = plan.inverse_weight_sum();
    tables.coverage = cuda::build_pixel_block_coverage(layout, blend_tuning::block_width, blend_tuning::block_height);
    return tables;
}

}  // namespace quadflow::cuda
