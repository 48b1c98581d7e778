// quadflow model tiles: a layout of model-sized tiles (min/max side, aligned) built over a fine quadtree's canvas.
//
// comfyui-quadtree-tile's content-adaptive quadtree has two roles that want different sizes. As a strength map (painted
// per pixel, read by the `mask` policy) it should be as fine as the content; as the tiles sent to the model it cannot
// be: FLUX patchifies 2x2 latent pixels into one token and is trained on 64..128 latent px. The model tiles are a
// second quadtree over the same canvas, in latent px:
//   - a node is split when it is wider or taller than max_tile (forced), along each axis longer than max_tile;
//   - otherwise a node whose core meets more than one fine tile's core is split along every axis whose two
//     halves would both be >= min_tile (two children when only one axis can, four when both can);
//   - a split point is half the side rounded down to a multiple of align, relative to the node; the
//     right/bottom child takes the remainder (so it is never smaller than the left/top one).
//
// Guarantee (validate() enforces max_tile >= 2 * ceil(min_tile / align) * align - 1, which makes the halves of
// every side above max_tile at least min_tile): the cores partition the canvas, and every core side s along an
// axis whose canvas side is C satisfies min(min_tile, C) <= s <= max_tile, so a canvas side below min_tile
// gives tiles that span it. Core origins are multiples of align; core sides are multiples of align except for
// tiles touching the right/bottom edge of a canvas side that is not a multiple of align.
//
// A model tile's denoise is the largest denoise of the fine tiles whose cores meet its core (0 if none does);
// with the `mask` policy and the fine layout's painted map, that is when the model tile is released.
// Time: O((fine tiles + model tiles) * depth): each node keeps the list of fine tiles meeting it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/quadtree.hpp"

namespace quadflow::tile {

struct model_tile_options {
    std::int64_t min_tile = 64;   ///< latent px: smallest model tile side (smaller only when the canvas is)
    std::int64_t max_tile = 128;  ///< latent px: largest core side
    std::int64_t align =
        2;  ///< latent px: tile origins and split points are multiples of it (2 for FLUX's 2x2 patches)
    std::int64_t overlap_latent = 8;  ///< latent px of padding on each side, per tile min(core_w / 2, core_h / 2, this)
};

/// Smallest max_tile that lets every side above it split into halves >= min_tile:
/// 2 * (min_tile rounded up to a multiple of align) - 1. Assumes min_tile and align in [1, max_layout_side].
inline std::int64_t smallest_max_tile(std::int64_t min_tile, std::int64_t align) {
    return 2 * ((min_tile + align - 1) / align * align) - 1;
}

/// Throws invalid_argument naming the first option outside its domain.
inline void validate(const model_tile_options& o) {
    const std::string side_range = "must be in [1, " + std::to_string(max_layout_side) + "] (max_layout_side)";
    require(o.min_tile >= 1 && o.min_tile <= max_layout_side, "min_tile", o.min_tile, side_range);
    require(o.align >= 1 && o.align <= max_layout_side, "align", o.align, side_range);
    require(o.max_tile >= o.min_tile, "max_tile", o.max_tile, "must be >= min_tile = " + std::to_string(o.min_tile));
    const std::int64_t needed = smallest_max_tile(o.min_tile, o.align);
    require(o.max_tile >= needed, "max_tile", o.max_tile,
            "must be >= " + std::to_string(needed) + " = 2 * min_tile rounded up to align - 1 (min_tile = " +
                std::to_string(o.min_tile) + ", align = " + std::to_string(o.align) +
                "), or a side just above max_tile would split into halves below min_tile");
    require(o.overlap_latent >= 0 && o.overlap_latent <= max_layout_side, "overlap_latent", o.overlap_latent,
            "must be in [0, " + std::to_string(max_layout_side) + "] (max_layout_side)");
}

namespace detail {

struct model_node {
    rect core;
    int depth = 0;
    std::vector<std::uint32_t> fine;  ///< indices of the fine tiles whose cores meet `core`
};

inline bool cores_meet(const rect& a, const rect& b) {
    return a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom();
}

/// Which axes of a model-tree node split (see the header comment).
inline split_axes model_split(const model_node& node, const model_tile_options& o) {
    const bool x_must = node.core.w > o.max_tile, y_must = node.core.h > o.max_tile;
    if (x_must || y_must) return {x_must, y_must};
    if (node.fine.size() <= 1) return {};
    return {aligned_half(node.core.w, o.align) >= o.min_tile, aligned_half(node.core.h, o.align) >= o.min_tile};
}

}  // namespace detail

/// Model tiles over `fine`'s canvas, by the rules in the header comment: each tile's denoise is the largest
/// denoise of the fine tiles its core meets, depth its depth in the model tree, pixel_core = core *
/// latent_scale, ids = indices, tiles in depth-first order with children top-left, top-right, bottom-left,
/// bottom-right. `fine` is read as it is (only its canvas is checked; tile::validate it first if it comes from
/// outside). Throws invalid_argument for bad options or canvas.
inline layout build_model_tiles(const layout& fine, const model_tile_options& options = {}) {
    validate(options);
    const std::string side_range = "must be in [1, " + std::to_string(max_layout_side) + "] (max_layout_side)";
    require(fine.width > 0 && fine.width <= max_layout_side, "fine.width", fine.width, side_range);
    require(fine.height > 0 && fine.height <= max_layout_side, "fine.height", fine.height, side_range);
    require(fine.latent_scale > 0, "fine.latent_scale", fine.latent_scale, "must be > 0");
    require(fine.tiles.size() <= std::size_t{0xFFFFFFFFu}, "fine.tiles.size()", fine.tiles.size(), "must be < 2^32");

    layout result;
    result.width = fine.width;
    result.height = fine.height;
    result.latent_scale = fine.latent_scale;
    const rect canvas{0, 0, fine.width, fine.height};
    detail::model_node root{canvas, 0, {}};
    for (std::size_t i = 0; i < fine.tiles.size(); ++i)
        if (detail::cores_meet(fine.tiles[i].core, canvas)) root.fine.push_back(static_cast<std::uint32_t>(i));

    std::vector<detail::model_node> pending;
    pending.push_back(std::move(root));
    while (!pending.empty()) {
        detail::model_node node = std::move(pending.back());
        pending.pop_back();
        const detail::split_axes split = detail::model_split(node, options);
        if (!split.x && !split.y) {
            layout_tile t;
            t.core = node.core;
            const std::int64_t s = fine.latent_scale;
            t.pixel_core = {node.core.x * s, node.core.y * s, node.core.w * s, node.core.h * s};
            const std::int64_t o = tile_overlap(node.core, options.overlap_latent);
            t.padded = {t.core.x - o, t.core.y - o, t.core.w + 2 * o, t.core.h + 2 * o};
            t.depth = node.depth;
            t.id = static_cast<std::int64_t>(result.tiles.size());
            t.strength = 0.0;
            for (std::uint32_t i : node.fine) t.strength = std::max(t.strength, fine.tiles[i].strength);
            result.tiles.push_back(t);
            continue;
        }
        const detail::node_children children = detail::split_node(node.core, split, options.align);
        for (std::size_t c = children.count; c-- > 0;) {
            detail::model_node child{children.rects[c], node.depth + 1, {}};
            for (std::uint32_t i : node.fine)
                if (detail::cores_meet(fine.tiles[i].core, child.core)) child.fine.push_back(i);
            pending.push_back(std::move(child));
        }
    }
    return result;
}

}  // namespace quadflow::tile
