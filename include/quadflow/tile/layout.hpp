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
struct tile {
    rect core;            ///< the region this tile is responsible for; cores of a quadtree partition the canvas
    rect padded;          ///< core grown by the overlap; may extend past the canvas (filled by reflection)
    double denoise = 1.0; ///< the tile's denoise strength d in [0, 1]
    std::int64_t id = 0;  ///< index in the layout's tile list
    int depth = 0;        ///< quadtree depth of the leaf (0 for grid tiles)
    rect pixel_core;      ///< `core` in image pixels (core * latent_scale)

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
    std::vector<tile> tiles;

    std::int64_t pixel_width() const { return width * latent_scale; }
    std::int64_t pixel_height() const { return height * latent_scale; }
};

/// Checks a layout: positive canvas and scale, every tile's core non-empty and inside the canvas, its
/// padded rectangle containing the core, its denoise in [0, 1] and finite, ids equal to indices, and
/// every latent pixel covered by at least one tile's padded rectangle (all weight kinds are positive
/// on the whole padded rectangle). Throws quadflow::invalid_argument naming the offending tile.
inline void validate(const layout& l) {
    require(l.width > 0, "layout.width", l.width, "must be > 0");
    require(l.height > 0, "layout.height", l.height, "must be > 0");
    require(l.latent_scale > 0, "layout.latent_scale", l.latent_scale, "must be > 0");
    require(!l.tiles.empty(), "layout.tiles.size()", l.tiles.size(), "a layout needs at least one tile");
    const rect canvas{0, 0, l.width, l.height};
    for (std::size_t i = 0; i < l.tiles.size(); ++i) {
        const tile& t = l.tiles[i];
        const std::string name = "layout.tiles[" + std::to_string(i) + "]";
        require(t.id == static_cast<std::int64_t>(i), name + ".id", t.id, "must equal its index");
        require(t.core.w > 0 && t.core.h > 0 && t.core.x >= 0 && t.core.y >= 0 && t.core.right() <= canvas.w &&
                    t.core.bottom() <= canvas.h,
                name + ".core", to_string(t.core),
                "must be non-empty and inside the canvas " + std::to_string(l.width) + "x" + std::to_string(l.height));
        require(t.padded.x <= t.core.x && t.padded.y <= t.core.y && t.padded.right() >= t.core.right() &&
                    t.padded.bottom() >= t.core.bottom(),
                name + ".padded", to_string(t.padded), "must contain the core " + to_string(t.core));
        require(std::isfinite(t.denoise) && t.denoise >= 0.0 && t.denoise <= 1.0, name + ".denoise", t.denoise,
                "must be in [0, 1]");
    }
    // Coverage by a row sweep over interval counts: O(tiles * height) memory-free check.
    std::vector<std::int64_t> delta(static_cast<std::size_t>(l.width) + 1);
    for (std::int64_t y = 0; y < l.height; ++y) {
        std::fill(delta.begin(), delta.end(), 0);
        for (const tile& t : l.tiles) {
            if (y < t.padded.y || y >= t.padded.bottom()) continue;
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
