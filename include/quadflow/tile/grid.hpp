// quadflow grid tilings: ComfyUI-TiledDiffusion's evenly spread overlapping grid and SpotDiffusion's shifted grid.
//
// Grid (ComfyUI-TiledDiffusion split_bboxes, per axis): a canvas of E latent px with tiles of t = min(tile, E)
// and overlap o gets n = ceil((E - o) / (t - o)) tiles (1 when t == E) at x_k = min(int(k * dy), E - t),
// dy = (E - t) / (n - 1) in double, as the extension computes it, except that the last tile is pinned to
// E - t (the extension's (n - 1) * dy can round to E - t - 1, leaving the last column uncovered, e.g.
// E = 550, t = 62). Every tile has size t and neighbours overlap by at least o. `padded` is that real tile (what the
// model sees); `core` is the evenly split part: the boundary between tiles k and k+1 is the middle of their overlap,
// floor((x_{k+1} + x_k + t) / 2), so cores partition the canvas like the quadtree's do and core-to-padded is the tile's
// own overlap on each side. Unlike the extension, which clamps the overlap to min(tile_w, tile_h) - 4, overlap >= tile
// is an error.
//
// SpotDiffusion: non-overlapping tiles whose grid lines sit at offset + k * tile on each axis, the offset
// drawn per step from a seeded sequence; tiles are clipped at the canvas edges (the ComfyUI port rolls the
// latent instead, which puts opposite edges into one tile). An axis no longer than the tile is one tile and
// never shifted (as in the port). Offsets per axis: total_steps values uniform in [0, tile) from splitmix64;
// `sorted` sorts them ascending over the steps, `fibonacci` spreads the sorted values with the port's
// fibonacci_spacing. Same seed, step and sizes give the same layout. The sequence is quadflow's own (not
// torch.randint), and both axes shift at every step (the port alternates axes when both shifts are non-zero).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::tile {

/// Most tiles build_grid and build_spot make (each tile is about 100 bytes; real layouts have hundreds).
inline constexpr std::int64_t max_grid_tiles = std::int64_t{1} << 20;

/// Most steps build_spot accepts (it draws one offset per step and axis).
inline constexpr int max_spot_steps = 1 << 20;

struct grid_options {
    std::int64_t tile = 96;           ///< latent px (768 px, the extension's default)
    std::int64_t overlap_latent = 8;  ///< latent px (64 image px at latent scale 8)
    int latent_scale = 8;
    double strength = 1.0;  ///< every tile's strength
};

inline void validate(const grid_options& o) {
    require(o.tile > 0, "tile", o.tile, "must be > 0");
    require(o.overlap_latent >= 0 && o.overlap_latent < o.tile, "overlap_latent", o.overlap_latent,
            "must be in [0, tile) with tile = " + std::to_string(o.tile));
    require(o.latent_scale > 0, "latent_scale", o.latent_scale, "must be > 0");
    require(std::isfinite(o.strength) && o.strength >= 0.0 && o.strength <= 1.0, "strength", o.strength,
            "must be in [0, 1]");
}

namespace detail {

inline void require_canvas_side(std::string_view name, std::int64_t side) {
    require(side > 0 && side <= max_layout_side, name, side,
            "must be in [1, " + std::to_string(max_layout_side) + "] latent px (max_layout_side)");
}

/// Throws invalid_argument naming `parameter` unless `tiles` (of a width x height canvas) is at most max_grid_tiles.
inline void require_tile_count(std::int64_t width, std::int64_t height, std::int64_t tiles, std::string_view parameter,
                               std::int64_t value, const std::string& context) {
    require(tiles <= max_grid_tiles, parameter, value,
            context + " gives " + std::to_string(tiles) + " tiles on a " + std::to_string(width) + "x" +
                std::to_string(height) + " canvas, more than max_grid_tiles = " + std::to_string(max_grid_tiles));
}

/// One tile's extent on one axis: the real tile [start, start + size) and its core.
struct axis_span {
    std::int64_t start = 0, size = 0, core_start = 0, core_size = 0;
};

/// Number of tiles of size min(tile, extent) split_bboxes puts on one axis: ceil((E - o) / (t - o)), 1 when t >= E.
inline std::int64_t grid_tile_count(std::int64_t extent, std::int64_t tile, std::int64_t overlap) {
    if (tile >= extent) return 1;
    return (extent - overlap + (tile - overlap) - 1) / (tile - overlap);
}

/// Tile origins of ComfyUI-TiledDiffusion's split_bboxes on one axis.
inline std::vector<std::int64_t> grid_origins(std::int64_t extent, std::int64_t tile, std::int64_t overlap) {
    if (tile >= extent) return {0};
    const std::int64_t count = grid_tile_count(extent, tile, overlap);
    const double step = static_cast<double>(extent - tile) / static_cast<double>(count - 1);
    std::vector<std::int64_t> origins;
    for (std::int64_t k = 0; k + 1 < count; ++k)
        origins.push_back(std::min(static_cast<std::int64_t>(static_cast<double>(k) * step), extent - tile));
    origins.push_back(extent - tile);  // (count - 1) * step can round below extent - tile: pin the last tile
    return origins;
}

/// Tiles of size `size` at `origins` (increasing, first 0, last extent - size) with cores split at the
/// middles of the overlaps.
inline std::vector<axis_span> spans_with_split_cores(const std::vector<std::int64_t>& origins, std::int64_t size,
                                                     std::int64_t extent) {
    std::vector<axis_span> spans;
    std::int64_t core_start = 0;
    for (std::size_t k = 0; k < origins.size(); ++k) {
        const std::int64_t core_end = k + 1 < origins.size() ? (origins[k + 1] + origins[k] + size) / 2 : extent;
        spans.push_back({origins[k], size, core_start, core_end - core_start});
        core_start = core_end;
    }
    return spans;
}

inline std::vector<axis_span> grid_axis(std::int64_t extent, std::int64_t tile, std::int64_t overlap) {
    const std::int64_t size = std::min(tile, extent);
    return spans_with_split_cores(grid_origins(extent, size, overlap), size, extent);
}

/// Row-major tiles from the spans of each axis.
inline layout layout_from_axes(std::int64_t width, std::int64_t height, int latent_scale, double denoise,
                               const std::vector<axis_span>& columns, const std::vector<axis_span>& rows) {
    layout l;
    l.width = width;
    l.height = height;
    l.latent_scale = latent_scale;
    l.tiles.reserve(columns.size() * rows.size());
    for (const axis_span& r : rows)
        for (const axis_span& c : columns) {
            layout_tile t;
            t.core = {c.core_start, r.core_start, c.core_size, r.core_size};
            t.padded = {c.start, r.start, c.size, r.size};
            t.pixel_core = {t.core.x * latent_scale, t.core.y * latent_scale, t.core.w * latent_scale,
                            t.core.h * latent_scale};
            t.strength = denoise;
            t.id = static_cast<std::int64_t>(l.tiles.size());
            l.tiles.push_back(t);
        }
    return l;
}

}  // namespace detail

/// ComfyUI-TiledDiffusion's grid over a width x height latent canvas (see the header comment).
inline layout build_grid(std::int64_t width_latent, std::int64_t height_latent, const grid_options& options) {
    detail::require_canvas_side("width", width_latent);
    detail::require_canvas_side("height", height_latent);
    validate(options);
    detail::require_tile_count(width_latent, height_latent,
                               detail::grid_tile_count(width_latent, options.tile, options.overlap_latent) *
                                   detail::grid_tile_count(height_latent, options.tile, options.overlap_latent),
                               "tile", options.tile, "with overlap_latent = " + std::to_string(options.overlap_latent));
    return detail::layout_from_axes(width_latent, height_latent, options.latent_scale, options.strength,
                                    detail::grid_axis(width_latent, options.tile, options.overlap_latent),
                                    detail::grid_axis(height_latent, options.tile, options.overlap_latent));
}

/// How SpotDiffusion orders its per-step offsets.
enum class spot_shift { random, sorted, fibonacci };

constexpr auto enum_names(spot_shift) {
    return make_enum_table<spot_shift>(
        "spot_shift", "spot_shift",
        {{spot_shift::random, "random"}, {spot_shift::sorted, "sorted"}, {spot_shift::fibonacci, "fibonacci"}});
}

inline std::string_view to_string(spot_shift shift) { return quadflow::to_string(shift); }

/// Parses random|sorted|fibonacci.
inline spot_shift parse_spot_shift(std::string_view name) { return quadflow::parse<spot_shift>(name); }

namespace detail {

/// splitmix64 (Steele, Lea, Flood 2014): advances `state` and returns the next 64 random bits.
inline std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// Uniform in [0, bound) by rejection (no modulo bias).
inline std::uint64_t uniform_below(std::uint64_t& state, std::uint64_t bound) {
    const std::uint64_t rejected_below = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
        const std::uint64_t x = splitmix64(state);
        if (x >= rejected_below) return x % bound;
    }
}

/// The ComfyUI port's fibonacci_spacing: value i goes to index fib[i mod len(fib)] mod n, moved forward to
/// the next free index, with fib = 0, 1, 1, 2, ... up to the first term >= n.
inline std::vector<std::int64_t> fibonacci_spacing(const std::vector<std::int64_t>& values) {
    const std::size_t n = values.size();
    std::vector<std::size_t> fib{0, 1};
    while (fib.back() < n) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
    std::vector<std::int64_t> result(n, 0);
    // The linear probe for the next free index, as a union-find: next_free[k] == k when k is free, else a later
    // index (cyclically) to look at; path halving keeps every search short (the probe alone is quadratic).
    std::vector<std::size_t> next_free(n);
    for (std::size_t k = 0; k < n; ++k) next_free[k] = k;
    const auto find_free = [&](std::size_t k) {
        while (next_free[k] != k) {
            next_free[k] = next_free[next_free[k]];
            k = next_free[k];
        }
        return k;
    };
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t target = find_free(fib[i % fib.size()] % n);
        result[target] = values[i];
        next_free[target] = (target + 1) % n;
    }
    return result;
}

/// Grid offsets of one axis for every step: values in [0, tile), ordered by `shift`.
inline std::vector<std::int64_t> spot_offsets(int total_steps, std::int64_t tile, std::uint64_t seed, spot_shift shift,
                                              std::uint64_t axis) {
    std::uint64_t state = seed ^ (axis * 0xD1B54A32D192ED03ull);
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(total_steps));
    for (auto& offset : offsets)
        offset = static_cast<std::int64_t>(uniform_below(state, static_cast<std::uint64_t>(tile)));
    if (shift != spot_shift::random) std::sort(offsets.begin(), offsets.end());
    if (shift == spot_shift::fibonacci) offsets = fibonacci_spacing(offsets);
    return offsets;
}

/// Non-overlapping spans with cuts at offset + k * tile inside (0, extent).
inline std::vector<axis_span> shifted_axis(std::int64_t extent, std::int64_t tile, std::int64_t offset) {
    std::vector<axis_span> spans;
    std::int64_t start = 0;
    for (std::int64_t cut = offset > 0 ? offset : tile; start < extent; cut += tile) {
        const std::int64_t end = std::min(cut, extent);
        spans.push_back({start, end - start, start, end - start});
        start = end;
    }
    return spans;
}

}  // namespace detail

/// SpotDiffusion's layout for step `step` of `total_steps` (see the header comment); tiles carry denoise 1.
inline layout build_spot(std::int64_t width, std::int64_t height, std::int64_t tile, int step, int total_steps,
                         std::uint64_t seed, spot_shift shift, int latent_scale) {
    detail::require_canvas_side("width", width);
    detail::require_canvas_side("height", height);
    require(tile > 0, "tile", tile, "must be > 0");
    require(total_steps >= 1 && total_steps <= max_spot_steps, "total_steps", total_steps,
            "must be in [1, " + std::to_string(max_spot_steps) + "] (max_spot_steps)");
    require(step >= 0 && step < total_steps, "step", step,
            "must be in [0, total_steps) with total_steps = " + std::to_string(total_steps));
    require(latent_scale > 0, "latent_scale", latent_scale, "must be > 0");
    // Each axis has at most extent / tile + 2 tiles (one partial at each end).
    detail::require_tile_count(width, height, (width / tile + 2) * (height / tile + 2), "tile", tile,
                               "at most (width / tile + 2) x (height / tile + 2)");
    auto axis = [&](std::int64_t extent, std::uint64_t stream) {
        if (tile >= extent) return detail::shifted_axis(extent, extent, 0);
        const std::int64_t offset =
            detail::spot_offsets(total_steps, tile, seed, shift, stream)[static_cast<std::size_t>(step)];
        return detail::shifted_axis(extent, tile, offset);
    };
    return detail::layout_from_axes(width, height, latent_scale, 1.0, axis(width, 0), axis(height, 1));
}

}  // namespace quadflow::tile
