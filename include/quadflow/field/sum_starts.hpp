// quadflow sum starts: for tiles added to a canvas in a fixed order, the columns of each tile row where it is the first
// to reach a pixel.
//
// A blend adds W * v of every tile covering a pixel, in one fixed tile order. A tile that zeroes the pixels
// it is the first to reach, just before adding to them, spares the blend a zero-fill pass over the canvas,
// and the sums are the same, bit for bit, as after a zero-fill.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field {

/// Canvas columns [begin, end) of one row.
struct column_run {
    std::int64_t begin = 0, end = 0;
};

/// For the tiles of a layout added in `order` (each tile index once): per tile row inside the canvas (its
/// padded rows clipped to the canvas), the runs of columns where no tile earlier in the order reaches.
class sum_starts {
public:
    sum_starts() = default;
    sum_starts(const tile::layout& layout, std::span<const std::int64_t> order) {
        const auto tiles = layout.tiles.size();
        require(order.size() == tiles, "order", static_cast<std::int64_t>(order.size()),
                "must list each of the layout's " + std::to_string(tiles) + " tiles once");
        const std::int64_t H = layout.height, W = layout.width;
        std::vector<char> reached(static_cast<std::size_t>(H * W), 0);
        std::vector<char> listed(tiles, 0);
        row_begin_.assign(tiles, 0);
        row_offsets_.clear();
        runs_.clear();
        for (std::int64_t index : order) {
            require(index >= 0 && static_cast<std::size_t>(index) < tiles && !listed[static_cast<std::size_t>(index)],
                    "order", index, "must list each tile index once");
            listed[static_cast<std::size_t>(index)] = 1;
            const rect& r = layout.tiles[static_cast<std::size_t>(index)].padded;
            row_begin_[static_cast<std::size_t>(index)] = static_cast<std::int64_t>(row_offsets_.size());
            const rect in = clipped(r, W, H);
            const std::int64_t x0 = in.x, x1 = in.right();
            for (std::int64_t y = in.y; y < in.bottom(); ++y) {
                row_offsets_.push_back(static_cast<std::int64_t>(runs_.size()));
                bool in_run = false;
                for (std::int64_t x = x0; x < x1; ++x) {
                    char& seen = reached[static_cast<std::size_t>(y * W + x)];
                    if (!seen) {
                        if (in_run)
                            runs_.back().end = x + 1;
                        else
                            runs_.push_back(column_run{x, x + 1});
                    }
                    in_run = !seen;
                    seen = 1;
                }
            }
        }
        row_offsets_.push_back(static_cast<std::int64_t>(runs_.size()));
    }

    /// The runs of tile `t`'s canvas row `y` (a row of its padded rectangle `padded` inside the canvas), left to right.
    std::span<const column_run> row(std::size_t t, const rect& padded, std::int64_t y) const {
        const auto r = static_cast<std::size_t>(row_begin_[t] + (y - std::max<std::int64_t>(padded.y, 0)));
        return {runs_.data() + row_offsets_[r], static_cast<std::size_t>(row_offsets_[r + 1] - row_offsets_[r])};
    }

    /// Runs over all tile rows.
    std::size_t size() const { return runs_.size(); }

private:
    std::vector<std::int64_t> row_begin_;    ///< per tile: index of its first row in row_offsets_
    std::vector<std::int64_t> row_offsets_;  ///< per tile row (in order): its first run; one extra at the end
    std::vector<column_run> runs_;
};

}  // namespace quadflow::field
