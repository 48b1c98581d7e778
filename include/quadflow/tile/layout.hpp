// quadflow tile layouts: a canvas size and a list of tiles (core, padded rectangle, strength), as plain values.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"

namespace quadflow::tile {

/// One tile of a layout. Rectangles are in latent pixels of the canvas.
struct layout_tile {
    rect core;              ///< the region this tile is responsible for; cores of a quadtree partition the canvas
    rect padded;            ///< core grown by the overlap; may extend past the canvas (filled by reflection)
    double strength = 1.0;  ///< the tile's strength d in [0, 1]: how much of the original it may change
    std::int64_t id = 0;    ///< index in the layout's tile list
    int depth = 0;          ///< quadtree depth of the leaf (0 for grid tiles)
    rect pixel_core;        ///< `core` in image pixels (core * latent_scale)
    /// The user's condition index (>= 0): which prompt embedding, LoRA scale or caption the engine uses for this
    /// tile (tile/conditions.hpp assigns it). Model batches hold tiles of one condition unless the model accepts
    /// mixed batches (model::accepts_mixed_conditions).
    std::int32_t condition = 0;

    std::int64_t overlap_left() const { return core.x - padded.x; }
    std::int64_t overlap_top() const { return core.y - padded.y; }
    std::int64_t overlap_right() const { return padded.right() - core.right(); }
    std::int64_t overlap_bottom() const { return padded.bottom() - core.bottom(); }
};

/// A canvas and the tiles that cover it.
struct layout {
    std::int64_t width = 0;   ///< canvas width in latent pixels
    std::int64_t height = 0;  ///< canvas height in latent pixels
    int latent_scale = 8;     ///< image pixels per latent pixel (8 for FLUX and SD VAEs, 1 for pixel space)
    std::vector<layout_tile> tiles;

    std::int64_t pixel_width() const { return width * latent_scale; }
    std::int64_t pixel_height() const { return height * latent_scale; }
};

/// Largest canvas side a layout may have, in latent pixels (134 million image pixels at latent scale 8); it keeps
/// every rectangle computation far from overflow and validate()'s memory small.
inline constexpr std::int64_t max_layout_side = std::int64_t{1} << 24;

/// Checks a layout: positive canvas (sides at most max_layout_side) and scale, every tile's core non-empty and
/// inside the canvas, its padded rectangle containing the core (and within max_layout_side of the canvas), its
/// denoise in [0, 1] and finite, its condition >= 0, ids equal to indices, and every latent pixel covered by at least
/// one tile's padded rectangle (all weight kinds are positive on the whole padded rectangle). Throws
/// quadflow::invalid_argument naming the offending tile.
inline void validate(const layout& l) {
    const std::string side_range = "must be in [1, " + std::to_string(max_layout_side) + "] (max_layout_side)";
    require(l.width > 0 && l.width <= max_layout_side, "layout.width", l.width, side_range);
    require(l.height > 0 && l.height <= max_layout_side, "layout.height", l.height, side_range);
    require(l.latent_scale > 0, "layout.latent_scale", l.latent_scale, "must be > 0");
    require(!l.tiles.empty(), "layout.tiles.size()", l.tiles.size(), "a layout needs at least one tile");
    const rect canvas{0, 0, l.width, l.height};
    for (std::size_t i = 0; i < l.tiles.size(); ++i) {
        const layout_tile& t = l.tiles[i];
        const std::string name = "layout.tiles[" + std::to_string(i) + "]";
        require(t.id == static_cast<std::int64_t>(i), name + ".id", t.id, "must equal its index");
        // Compared without forming x + w, which could overflow for arbitrary rectangles.
        require(t.core.w > 0 && t.core.h > 0 && t.core.x >= 0 && t.core.y >= 0 && t.core.w <= canvas.w - t.core.x &&
                    t.core.h <= canvas.h - t.core.y,
                name + ".core", to_string(t.core),
                "must be non-empty and inside the canvas " + std::to_string(l.width) + "x" + std::to_string(l.height));
        const auto within = [](std::int64_t v) { return v >= -max_layout_side && v <= max_layout_side; };
        require(within(t.padded.x) && within(t.padded.y) && t.padded.w >= 0 && t.padded.w <= 3 * max_layout_side &&
                    t.padded.h >= 0 && t.padded.h <= 3 * max_layout_side,
                name + ".padded", to_string(t.padded),
                "must lie within max_layout_side = " + std::to_string(max_layout_side) + " latent px of the canvas");
        require(t.padded.x <= t.core.x && t.padded.y <= t.core.y && t.padded.right() >= t.core.right() &&
                    t.padded.bottom() >= t.core.bottom(),
                name + ".padded", to_string(t.padded), "must contain the core " + to_string(t.core));
        require(std::isfinite(t.strength) && t.strength >= 0.0 && t.strength <= 1.0, name + ".strength", t.strength,
                "must be in [0, 1]");
        require(t.condition >= 0, name + ".condition", t.condition, "must be >= 0");
    }
    // Coverage by a row sweep over interval counts of the tiles that reach the row: tiles join the active list
    // at their first row and leave after their last, so the time is O(height * width + sum of tile heights).
    std::vector<std::size_t> by_top(l.tiles.size());
    for (std::size_t i = 0; i < by_top.size(); ++i) by_top[i] = i;
    std::sort(by_top.begin(), by_top.end(),
              [&](std::size_t a, std::size_t b) { return l.tiles[a].padded.y < l.tiles[b].padded.y; });
    std::vector<std::size_t> active;
    std::size_t joined = 0;
    std::vector<std::int64_t> delta(static_cast<std::size_t>(l.width) + 1);
    for (std::int64_t y = 0; y < l.height; ++y) {
        while (joined < by_top.size() && l.tiles[by_top[joined]].padded.y <= y) active.push_back(by_top[joined++]);
        std::erase_if(active, [&](std::size_t i) { return l.tiles[i].padded.bottom() <= y; });
        std::fill(delta.begin(), delta.end(), 0);
        for (std::size_t i : active) {
            const layout_tile& t = l.tiles[i];
            ++delta[static_cast<std::size_t>(std::clamp<std::int64_t>(t.padded.x, 0, l.width))];
            --delta[static_cast<std::size_t>(std::clamp<std::int64_t>(t.padded.right(), 0, l.width))];
        }
        std::int64_t covering = 0;
        for (std::int64_t x = 0; x < l.width; ++x) {
            covering += delta[static_cast<std::size_t>(x)];
            if (covering <= 0)
                throw invalid_argument("layout", "pixel (x=" + std::to_string(x) + ", y=" + std::to_string(y) + ")",
                                       "no tile covers this latent pixel");
        }
    }
}

}  // namespace quadflow::tile
