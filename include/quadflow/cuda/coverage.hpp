// quadflow CUDA blend coverage (host-safe, no CUDA): for each block of canvas pixels, the tiles whose padded rectangle
// reaches it (CSR, tile order).
//
// A gather-style blend (each output pixel sums the tiles that cover it, in a fixed order) needs, per pixel,
// the list of covering tiles. Lists per block of block_width x block_height pixels are short and are built
// once per layout: block b's tiles are tiles[offsets[b] .. offsets[b + 1]), in increasing tile index, and
// they are exactly the tiles whose padded rectangle, clipped to the canvas, intersects the block. A pixel
// takes from the listed tiles that contain it; summing them in list order makes the result independent of
// how the work is scheduled.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::cuda {

struct pixel_block_coverage {
    std::int64_t block_width = 0, block_height = 0;  ///< pixels per block
    std::int64_t blocks_x = 0, blocks_y = 0;         ///< blocks per row, block rows (edge blocks may be partial)
    std::vector<std::int32_t> offsets;               ///< blocks_x * blocks_y + 1 entries, row-major blocks
    std::vector<std::int32_t> tiles;                 ///< tile indices, increasing within each block

    std::int64_t block_count() const { return blocks_x * blocks_y; }
    std::int64_t block_of(std::int64_t x, std::int64_t y) const {
        return (y / block_height) * blocks_x + x / block_width;
    }
    /// The pixel rectangle of block `b`, clipped to a canvas of `width` x `height`.
    rect block_rect(std::int64_t b, std::int64_t width, std::int64_t height) const {
        const std::int64_t x = (b % blocks_x) * block_width, y = (b / blocks_x) * block_height;
        return {x, y, std::min(block_width, width - x), std::min(block_height, height - y)};
    }
};

/// Builds the per-block lists of covering tiles for `layout` (see the header comment). Entries are 32-bit:
/// throws invalid_argument when the lists would hold 2^31 entries or more.
inline pixel_block_coverage build_pixel_block_coverage(const tile::layout& layout, std::int64_t block_width,
                                                       std::int64_t block_height) {
    require(block_width > 0, "block_width", block_width, "must be > 0");
    require(block_height > 0, "block_height", block_height, "must be > 0");
    require(layout.width > 0 && layout.height > 0, "layout",
            std::to_string(layout.width) + "x" + std::to_string(layout.height), "the canvas must be non-empty");
    require(layout.tiles.size() < static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
            "layout.tiles.size()", layout.tiles.size(), "must be < 2^31");
    pixel_block_coverage coverage;
    coverage.block_width = block_width;
    coverage.block_height = block_height;
    coverage.blocks_x = (layout.width + block_width - 1) / block_width;
    coverage.blocks_y = (layout.height + block_height - 1) / block_height;
    const std::int64_t blocks = coverage.block_count();

    struct block_span {
        std::int64_t x0 = 0, x1 = 0, y0 = 0, y1 = 0;  ///< block columns [x0, x1) and rows [y0, y1)
    };
    auto span_of = [&](const tile::layout_tile& t) {
        const rect r = clipped(t.padded, layout.width, layout.height);
        if (r.w <= 0 || r.h <= 0) return block_span{};
        return block_span{r.x / block_width, (r.right() - 1) / block_width + 1, r.y / block_height,
                          (r.bottom() - 1) / block_height + 1};
    };

    std::vector<std::int64_t> counts(static_cast<std::size_t>(blocks) + 1, 0);
    for (const tile::layout_tile& t : layout.tiles) {
        const block_span s = span_of(t);
        for (std::int64_t by = s.y0; by < s.y1; ++by)
            for (std::int64_t bx = s.x0; bx < s.x1; ++bx)
                ++counts[static_cast<std::size_t>(by * coverage.blocks_x + bx)];
    }
    coverage.offsets.resize(static_cast<std::size_t>(blocks) + 1);
    std::int64_t total = 0;
    for (std::int64_t b = 0; b < blocks; ++b) {
        coverage.offsets[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(total);
        total += counts[static_cast<std::size_t>(b)];
        require(total < std::numeric_limits<std::int32_t>::max(), "coverage entries", total,
                "must be < 2^31 (use larger blocks)");
    }
    coverage.offsets[static_cast<std::size_t>(blocks)] = static_cast<std::int32_t>(total);
    coverage.tiles.resize(static_cast<std::size_t>(total));
    std::vector<std::int64_t> next(coverage.offsets.begin(), coverage.offsets.end() - 1);
    for (std::size_t i = 0; i < layout.tiles.size(); ++i) {  // tiles in index order: lists come out increasing
        const block_span s = span_of(layout.tiles[i]);
        for (std::int64_t by = s.y0; by < s.y1; ++by)
            for (std::int64_t bx = s.x0; bx < s.x1; ++bx)
                coverage
                    .tiles[static_cast<std::size_t>(next[static_cast<std::size_t>(by * coverage.blocks_x + bx)]++)] =
                    static_cast<std::int32_t>(i);
    }
    return coverage;
}

}  // namespace quadflow::cuda
