// quadflow condition assignment: each tile's condition index (tile::layout_tile::condition) from a label image, a
// callback or the quadtree depth, so an engine can give regions or tile sizes their own prompt, LoRA scale or caption.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "quadflow/core/error.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::tile {

/// A label image at image resolution: one non-negative condition index per pixel, row-major, width x height.
struct label_image {
    std::span<const std::int32_t> labels;
    std::int64_t width = 0, height = 0;
};

/// Each tile takes the label covering most of its core (in image pixels: pixel_core); ties go to the smaller
/// label. The image must have the layout's pixel size. Throws invalid_argument or shape_error naming what is wrong.
inline void assign_conditions(layout& l, const label_image& image) {
    if (image.width != l.pixel_width() || image.height != l.pixel_height())
        throw shape_error("label image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                          " px but the layout's image is " + std::to_string(l.pixel_width()) + "x" +
                          std::to_string(l.pixel_height()) + " px");
    require(static_cast<std::int64_t>(image.labels.size()) == image.width * image.height, "labels.size()",
            image.labels.size(), "must be width * height = " + std::to_string(image.width * image.height));
    std::map<std::int32_t, std::int64_t> votes;
    for (layout_tile& t : l.tiles) {
        votes.clear();
        const rect& r = t.pixel_core;
        for (std::int64_t y = r.y; y < r.bottom(); ++y)
            for (std::int64_t x = r.x; x < r.right(); ++x) {
                const std::int32_t label = image.labels[static_cast<std::size_t>(y * image.width + x)];
                require(label >= 0, "labels at pixel (x=" + std::to_string(x) + ", y=" + std::to_string(y) + ")", label,
                        "must be >= 0 (a condition index)");
                ++votes[label];
            }
        // std::map iterates labels in increasing order and max_element keeps the first maximum: the smaller label.
        t.condition = std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) {
                          return a.second < b.second;
                      })->first;
    }
}

/// Each tile takes condition_of(tile). Throws invalid_argument for a negative index.
template <class F>
requires std::is_invocable_r_v<std::int32_t, F&, const layout_tile&>
void assign_conditions(layout& l, F&& condition_of) {
    for (layout_tile& t : l.tiles) {
        const std::int32_t c = std::invoke(condition_of, std::as_const(t));
        require(c >= 0, "condition of tile " + std::to_string(t.id), c, "must be >= 0");
        t.condition = c;
    }
}

/// Tiles at quadtree depth d take by_depth[min(d, by_depth.size() - 1)]: e.g. {0, 0, 0, 1} gives leaves at depth 3
/// and deeper (the small tiles of detailed regions) condition 1, a "detail" prompt.
inline void assign_conditions_by_depth(layout& l, std::span<const std::int32_t> by_depth) {
    require(!by_depth.empty(), "by_depth.size()", 0, "must be >= 1");
    for (std::size_t d = 0; d < by_depth.size(); ++d)
        require(by_depth[d] >= 0, "by_depth[" + std::to_string(d) + "]", by_depth[d], "must be >= 0");
    for (layout_tile& t : l.tiles)
        t.condition = by_depth[std::min(static_cast<std::size_t>(std::max(t.depth, 0)), by_depth.size() - 1)];
}

}  // namespace quadflow::tile
