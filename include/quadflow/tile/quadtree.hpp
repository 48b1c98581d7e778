// quadflow quadtree tiling: comfyui-quadtree-tile's content-adaptive quadtree on the pixel image, as a tile layout.
//
// Tree (comfyui-quadtree-tile's rules, on the RGB8 image, 0..255):
//   - root = the image rounded down to multiples of `align` pixels (8 in comfyui-quadtree-tile);
//   - a node splits into four when sqrt(varR + varG + varB) > content_threshold (population variance per
//     channel over the node's pixels);
//   - split points are node.w/2 and node.h/2 rounded down to multiples of `align` relative to the node; the
//     right/bottom children take the remainder (so they are never smaller than the left/top ones);
//   - a split needs the smaller (left/top) half of *each* axis to be >= max(min_tile_size, align):
//   comfyui-quadtree-tile's
//     should_subdivide() checks half_w and half_h separately and never splits along one axis only.
// Additions (off by default): leaves are never smaller than min_latent_tile * latent_scale pixels on a side
// (that raises the minimum half above); max_depth stops all splits at that depth; max_tile_size forces a
// split of any node wider or taller than it, whatever its variance, along every axis that can split (two
// children when only one axis can, so a leaf exceeds max_tile_size only when max_depth stops it).
// Children are listed top-left, top-right, bottom-left, bottom-right; leaves in depth-first order.
//
// Per-leaf denoise (min_d = 0.2, max_d = 0.8 by default), for square leaves one level apart (area ratio 4):
//   level below the largest leaf |  0   |   1   |   2    |    3     |     4
//   area rule  (comfyui-quadtree-tile's)      | 0.20 | 0.65  | 0.7625 | 0.790625 | 0.79765625
//   depth rule                   | 0.20 | 0.35  | 0.50   | 0.65     | 0.80
// area:  d = min_d + (max_d - min_d) * (1 - area / max_area), max_area = the largest leaf's area; it
//        saturates: everything two levels down is within 0.04 of max_d.
// depth: d = min_d + (max_d - min_d) * (depth - min_leaf_depth) / (max_leaf_depth - min_leaf_depth), min_d
//        for every leaf when all leaves share one depth; evenly spaced, reaches max_d at the deepest leaf.
//
// Overlap (comfyui-quadtree-tile's rule, latent pixels): the requested overlap / latent_scale, clamped to
// min(canvas_w, canvas_h) / 4, then per tile o = min(core_w / 2, core_h / 2, that) on every side. The
// padded rectangle may extend past the canvas; reflection fills that part later.
//
// Variance of any node comes in O(1) from summed-area tables of per-channel sums and the sum of squares at
// align-block granularity (every node edge lies on that grid): one pass over the image, then a tree walk.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::tile {

/// How a quadtree leaf's strength follows from its place in the tree (see the table above).
enum class leaf_strength_rule { area, depth };

constexpr auto enum_names(leaf_strength_rule) {
    return make_enum_table<leaf_strength_rule>(
        "leaf_strength_rule", "leaf_strength_rule",
        {{leaf_strength_rule::area, "area"}, {leaf_strength_rule::depth, "depth"}});
}

inline std::string_view to_string(leaf_strength_rule rule) { return quadflow::to_string(rule); }

/// Parses area|depth.
inline leaf_strength_rule parse_leaf_strength_rule(std::string_view name) {
    return quadflow::parse<leaf_strength_rule>(name);
}

struct quadtree_options {
    double content_threshold = 25;     ///< split when sqrt(varR + varG + varB) exceeds it (0..255 scale)
    std::int64_t min_tile_size = 4;    ///< px; each axis's smaller half must reach max(this, align)
    std::int64_t align = 8;            ///< px; a positive multiple of latent_scale
    std::int64_t max_tile_size = 0;    ///< px, 0 = no limit
    int max_depth = -1;                ///< -1 = no limit
    std::int64_t min_latent_tile = 1;  ///< latent px the model accepts on a side
    int latent_scale = 8;              ///< image pixels per latent pixel
    double min_strength = 0.2, max_strength = 0.8;
    leaf_strength_rule rule = leaf_strength_rule::area;
    std::int64_t overlap_pixels = 0;                  ///< image px of padding on each side, 0 = off
    std::int64_t max_pixels = std::int64_t{1} << 28;  ///< largest image accepted, checked before any allocation
};

/// Smallest side a leaf can have: max(min_tile_size, align, min_latent_tile * latent_scale) rounded up to
/// a multiple of align. Assumes valid options.
inline std::int64_t smallest_leaf_side(const quadtree_options& o) {
    const std::int64_t side = std::max({o.min_tile_size, o.align, o.min_latent_tile * o.latent_scale});
    return (side + o.align - 1) / o.align * o.align;
}

/// Largest value accepted for the pixel-size options (keeps every size computation far from overflow).
inline constexpr std::int64_t max_option_pixels = std::int64_t{1} << 31;

/// Throws invalid_argument naming the first option outside its domain.
inline void validate(const quadtree_options& o) {
    const std::string size_range = "must be in [1, " + std::to_string(max_option_pixels) + "]";
    require(std::isfinite(o.content_threshold) && o.content_threshold > 0.0, "content_threshold", o.content_threshold,
            "must be finite and > 0");
    require(o.min_tile_size > 0 && o.min_tile_size <= max_option_pixels, "min_tile_size", o.min_tile_size, size_range);
    require(o.latent_scale > 0, "latent_scale", o.latent_scale, "must be > 0");
    require(o.align > 0 && o.align <= max_option_pixels && o.align % o.latent_scale == 0, "align", o.align,
            "must be a positive multiple of latent_scale = " + std::to_string(o.latent_scale) + ", at most " +
                std::to_string(max_option_pixels));
    require(o.min_latent_tile >= 1 && o.min_latent_tile <= max_option_pixels / o.latent_scale, "min_latent_tile",
            o.min_latent_tile,
            "must be >= 1 and min_latent_tile * latent_scale <= " + std::to_string(max_option_pixels));
    require(o.max_depth >= -1, "max_depth", o.max_depth, "must be >= 0, or -1 for no limit");
    require(o.max_tile_size >= 0 && o.max_tile_size <= max_option_pixels, "max_tile_size", o.max_tile_size,
            "must be in [0, " + std::to_string(max_option_pixels) + "] (0 = no limit)");
    if (o.max_tile_size > 0) {
        const std::int64_t needed = 2 * smallest_leaf_side(o);
        require(o.max_tile_size >= needed, "max_tile_size", o.max_tile_size,
                "must be 0 or >= " + std::to_string(needed) +
                    " px (twice the smallest leaf side), or no split can meet it");
    }
    require(std::isfinite(o.min_strength) && o.min_strength >= 0.0 && o.min_strength <= 1.0, "min_strength",
            o.min_strength, "must be in [0, 1]");
    require(std::isfinite(o.max_strength) && o.max_strength >= 0.0 && o.max_strength <= 1.0, "max_strength",
            o.max_strength, "must be in [0, 1]");
    require(o.min_strength <= o.max_strength, "min_strength", o.min_strength,
            "must be <= max_strength = " + quadflow::detail::to_text(o.max_strength));
    require(o.overlap_pixels >= 0 && o.overlap_pixels <= max_option_pixels, "overlap_pixels", o.overlap_pixels,
            "must be in [0, " + std::to_string(max_option_pixels) + "] (0 = off)");
    require(o.max_pixels > 0, "max_pixels", o.max_pixels, "must be > 0");
}

/// comfyui-quadtree-tile's area rule: min_d + (max_d - min_d) * (1 - area / max_area).
inline double area_strength(double area, double max_area, double min_d, double max_d) {
    return min_d + (max_d - min_d) * (1.0 - area / max_area);
}

/// The depth rule: min_d + (max_d - min_d) * (depth - shallowest) / (deepest - shallowest); min_d when equal.
inline double depth_strength(int depth, int shallowest, int deepest, double min_d, double max_d) {
    if (deepest == shallowest) return min_d;
    return min_d +
           (max_d - min_d) * static_cast<double>(depth - shallowest) / static_cast<double>(deepest - shallowest);
}

/// comfyui-quadtree-tile's overlap for one tile: min(core_w / 2, core_h / 2, overlap_latent) latent px per side.
inline std::int64_t tile_overlap(const rect& core, std::int64_t overlap_latent) {
    return std::min({core.w / 2, core.h / 2, overlap_latent});
}

/// Requested overlap in latent px, clamped to min(canvas_w, canvas_h) / 4 as comfyui-quadtree-tile does.
inline std::int64_t clamped_overlap_latent(std::int64_t overlap_px, int latent_scale, std::int64_t canvas_w,
                                           std::int64_t canvas_h) {
    return std::min(overlap_px / latent_scale, std::min(canvas_w, canvas_h) / 4);
}

namespace detail {

/// Sums over a set of pixels: per channel and of the squares of all three channels.
struct rgb_moments {
    double r = 0, g = 0, b = 0, squares = 0;
};

/// sqrt(varR + varG + varB) of `pixels` pixels with the given sums (population variances).
inline double rgb_deviation(const rgb_moments& m, double pixels) {
    const double mean_square_sum = (m.r * m.r + m.g * m.g + m.b * m.b) / pixels;
    return std::sqrt(std::max(0.0, (m.squares - mean_square_sum) / pixels));
}

struct block_sums {
    std::uint64_t r = 0, g = 0, b = 0, squares = 0;
};

/// Columns of a 16-pixel strip summed over a band of at most max_band_rows rows: bytes and squared bytes.
struct strip_columns {
    static constexpr std::int64_t pixels = 16;
    static constexpr std::size_t bytes = 3 * pixels;
    std::array<std::uint16_t, bytes> sum{};
    std::array<std::uint32_t, bytes> squares{};

    /// Sums over strip pixels [first, last).
    block_sums pixel_range(std::int64_t first, std::int64_t last) const {
        block_sums s;
        for (auto k = static_cast<std::size_t>(3 * first); k < static_cast<std::size_t>(3 * last); k += 3) {
            s.r += sum[k];
            s.g += sum[k + 1];
            s.b += sum[k + 2];
            s.squares += std::uint64_t{squares[k]} + squares[k + 1] + squares[k + 2];
        }
        return s;
    }
};

/// Column sums of the strip of pixels [x0, x0 + 16) over rows [y0, y0 + rows), rows >= 1. The accumulators
/// are locals that nothing else can alias, start as the first row (no memset) and the inner loops have a
/// fixed length, so compilers vectorise them at -O2.
inline strip_columns sum_strip(const rgb_image_view& image, std::int64_t x0, std::int64_t y0, std::int64_t rows) {
    std::array<std::uint16_t, strip_columns::bytes> sum;
    std::array<std::uint32_t, strip_columns::bytes> squares;
    const std::uint8_t* first = image.row(y0) + 3 * x0;
    for (std::size_t k = 0; k < strip_columns::bytes; ++k) {
        const std::uint16_t v = first[k];
        sum[k] = v;
        squares[k] = static_cast<std::uint16_t>(v * v);  // 255^2 fits in 16 bits
    }
    for (std::int64_t y = y0 + 1; y < y0 + rows; ++y) {
        const std::uint8_t* row_bytes = image.row(y) + 3 * x0;
        for (std::size_t k = 0; k < strip_columns::bytes; ++k) {
            const std::uint16_t v = row_bytes[k];
            sum[k] = static_cast<std::uint16_t>(sum[k] + v);
            squares[k] += static_cast<std::uint16_t>(v * v);
        }
    }
    return {sum, squares};
}

/// Largest band of rows whose column sums fit 16 bits (rows * 255 < 2^16).
inline constexpr std::int64_t max_band_rows = 256;

inline void add_to(block_sums& total, const block_sums& part) {
    total.r += part.r;
    total.g += part.g;
    total.b += part.b;
    total.squares += part.squares;
}

/// Sums of pixel x over rows [y0, y0 + rows).
inline block_sums pixel_column(const rgb_image_view& image, std::int64_t x, std::int64_t y0, std::int64_t rows) {
    block_sums s;
    for (std::int64_t y = y0; y < y0 + rows; ++y) {
        const std::uint8_t* p = image.row(y) + 3 * x;
        s.r += p[0];
        s.g += p[1];
        s.b += p[2];
        s.squares += std::uint64_t{p[0]} * p[0] + std::uint64_t{p[1]} * p[1] + std::uint64_t{p[2]} * p[2];
    }
    return s;
}

/// Adds rows [y0, y0 + rows) of pixels [0, width) into `blocks`, block b covering pixels [b*block, (b+1)*block).
inline void add_band_to_blocks(const rgb_image_view& image, std::int64_t y0, std::int64_t rows, std::int64_t width,
                               std::int64_t block, std::span<block_sums> blocks) {
    constexpr std::int64_t strip_pixels = strip_columns::pixels;
    const std::int64_t strips = width / strip_pixels;
    for (std::int64_t strip = 0; strip < strips; ++strip) {
        const std::int64_t x0 = strip * strip_pixels;
        const strip_columns columns = sum_strip(image, x0, y0, rows);
        for (std::int64_t x = x0; x < x0 + strip_pixels;) {
            const std::int64_t block_end = std::min((x / block + 1) * block, x0 + strip_pixels);
            add_to(blocks[static_cast<std::size_t>(x / block)], columns.pixel_range(x - x0, block_end - x0));
            x = block_end;
        }
    }
    for (std::int64_t x = strips * strip_pixels; x < width; ++x)
        add_to(blocks[static_cast<std::size_t>(x / block)], pixel_column(image, x, y0, rows));
}

/// Summed-area table of rgb_moments over a grid of `block` x `block` pixel squares covering
/// [0, blocks_x * block) x [0, blocks_y * block) of the image.
class block_moment_table {
public:
    block_moment_table(const rgb_image_view& image, std::int64_t block, std::int64_t blocks_x, std::int64_t blocks_y)
        : columns_(blocks_x + 1), table_(static_cast<std::size_t>((blocks_x + 1) * (blocks_y + 1))) {
        std::vector<block_sums> band(static_cast<std::size_t>(blocks_x));
        for (std::int64_t by = 0; by < blocks_y; ++by) {
            std::fill(band.begin(), band.end(), block_sums{});
            for (std::int64_t done = 0; done < block; done += max_band_rows)
                add_band_to_blocks(image, by * block + done, std::min(max_band_rows, block - done), blocks_x * block,
                                   block, band);
            rgb_moments row_prefix;
            for (std::int64_t bx = 0; bx < blocks_x; ++bx) {
                const block_sums& s = band[static_cast<std::size_t>(bx)];
                row_prefix.r += static_cast<double>(s.r);
                row_prefix.g += static_cast<double>(s.g);
                row_prefix.b += static_cast<double>(s.b);
                row_prefix.squares += static_cast<double>(s.squares);
                const rgb_moments& above = at(bx + 1, by);
                at(bx + 1, by + 1) = {above.r + row_prefix.r, above.g + row_prefix.g, above.b + row_prefix.b,
                                      above.squares + row_prefix.squares};
            }
        }
    }

    /// Sums over blocks [bx0, bx1) x [by0, by1).
    rgb_moments sum(std::int64_t bx0, std::int64_t by0, std::int64_t bx1, std::int64_t by1) const {
        const rgb_moments &a = at(bx1, by1), &b = at(bx0, by1), &c = at(bx1, by0), &d = at(bx0, by0);
        return {a.r - b.r - c.r + d.r, a.g - b.g - c.g + d.g, a.b - b.b - c.b + d.b,
                a.squares - b.squares - c.squares + d.squares};
    }

private:
    rgb_moments& at(std::int64_t bx, std::int64_t by) { return table_[static_cast<std::size_t>(by * columns_ + bx)]; }
    const rgb_moments& at(std::int64_t bx, std::int64_t by) const {
        return table_[static_cast<std::size_t>(by * columns_ + bx)];
    }

    std::int64_t columns_;
    std::vector<rgb_moments> table_;
};

/// Left/top part of a split of `extent`: extent / 2 rounded down to a multiple of align.
inline std::int64_t aligned_half(std::int64_t extent, std::int64_t align) { return extent / 2 / align * align; }

struct quadtree_leaf {
    rect pixels;
    int depth = 0;
};

/// Which axes of a node split (none: a leaf).
struct split_axes {
    bool x = false, y = false;
};

inline split_axes choose_split(const rect& node, int depth, const quadtree_options& o, std::int64_t min_side,
                               const block_moment_table& moments) {
    if (o.max_depth >= 0 && depth >= o.max_depth) return {};
    const bool x_can = aligned_half(node.w, o.align) >= min_side;
    const bool y_can = aligned_half(node.h, o.align) >= min_side;
    const bool too_large = o.max_tile_size > 0 && (node.w > o.max_tile_size || node.h > o.max_tile_size);
    if (too_large) return {x_can, y_can};
    if (!x_can || !y_can) return {};
    const rgb_moments m =
        moments.sum(node.x / o.align, node.y / o.align, node.right() / o.align, node.bottom() / o.align);
    if (rgb_deviation(m, static_cast<double>(node.area())) > o.content_threshold) return {true, true};
    return {};
}

/// Up to four children of a split node.
struct node_children {
    std::array<rect, 4> rects;
    std::size_t count = 0;

    void add(const rect& r) { rects[count++] = r; }
};

/// Children of `node` split along the chosen axes, top-left, top-right, bottom-left, bottom-right; the
/// right/bottom ones take the remainder.
inline node_children split_node(const rect& node, split_axes split, std::int64_t align) {
    const std::int64_t left = split.x ? aligned_half(node.w, align) : node.w;
    const std::int64_t top = split.y ? aligned_half(node.h, align) : node.h;
    node_children children;
    children.add({node.x, node.y, left, top});
    if (split.x) children.add({node.x + left, node.y, node.w - left, top});
    if (split.y) children.add({node.x, node.y + top, left, node.h - top});
    if (split.x && split.y) children.add({node.x + left, node.y + top, node.w - left, node.h - top});
    return children;
}

/// Leaves of the tree over `root`, depth first, children in split_node's order.
inline std::vector<quadtree_leaf> quadtree_leaves(const rect& root, const quadtree_options& o,
                                                  const block_moment_table& moments) {
    const std::int64_t min_side = smallest_leaf_side(o);
    std::vector<quadtree_leaf> leaves;
    std::vector<quadtree_leaf> pending{{root, 0}};
    while (!pending.empty()) {
        const quadtree_leaf node = pending.back();
        pending.pop_back();
        const split_axes split = choose_split(node.pixels, node.depth, o, min_side, moments);
        if (!split.x && !split.y) {
            leaves.push_back(node);
            continue;
        }
        const node_children children = split_node(node.pixels, split, o.align);
        for (std::size_t i = children.count; i-- > 0;) pending.push_back({children.rects[i], node.depth + 1});
    }
    return leaves;
}

inline void check_image_size(const rgb_image_view& image, const quadtree_options& o) {
    validate(image);
    require(image.width <= o.max_pixels / image.height, "image.width * image.height",
            std::to_string(image.width) + " * " + std::to_string(image.height),
            "exceeds max_pixels = " + std::to_string(o.max_pixels));
    const std::int64_t min_root = std::max(o.align, o.min_latent_tile * o.latent_scale);
    require(image.width / o.align * o.align >= min_root, "image.width", image.width,
            "rounded down to a multiple of align = " + std::to_string(o.align) +
                " must be >= " + std::to_string(min_root) + " px (align and min_latent_tile * latent_scale)");
    require(image.height / o.align * o.align >= min_root, "image.height", image.height,
            "rounded down to a multiple of align = " + std::to_string(o.align) +
                " must be >= " + std::to_string(min_root) + " px (align and min_latent_tile * latent_scale)");
}

inline double leaf_strength(const quadtree_leaf& leaf, const quadtree_options& o, double max_area, int shallowest,
                            int deepest) {
    if (o.rule == leaf_strength_rule::depth)
        return depth_strength(leaf.depth, shallowest, deepest, o.min_strength, o.max_strength);
    return area_strength(static_cast<double>(leaf.pixels.area()), max_area, o.min_strength, o.max_strength);
}

}  // namespace detail

/// Builds comfyui-quadtree-tile's quadtree on `image` and returns its leaves as a layout in latent pixels
/// (canvas = root / latent_scale). Throws invalid_argument for bad options or an unusable image.
inline layout build_quadtree(const rgb_image_view& image, const quadtree_options& options) {
    validate(options);
    detail::check_image_size(image, options);
    const std::int64_t a = options.align;
    const rect root{0, 0, image.width / a * a, image.height / a * a};
    const detail::block_moment_table moments(image, a, root.w / a, root.h / a);
    const std::vector<detail::quadtree_leaf> leaves = detail::quadtree_leaves(root, options, moments);

    double max_area = 0;
    int shallowest = std::numeric_limits<int>::max(), deepest = 0;
    for (const auto& leaf : leaves) {
        max_area = std::max(max_area, static_cast<double>(leaf.pixels.area()));
        shallowest = std::min(shallowest, leaf.depth);
        deepest = std::max(deepest, leaf.depth);
    }

    const std::int64_t s = options.latent_scale;
    layout result;
    result.width = root.w / s;
    result.height = root.h / s;
    result.latent_scale = options.latent_scale;
    const std::int64_t overlap =
        clamped_overlap_latent(options.overlap_pixels, options.latent_scale, result.width, result.height);
    result.tiles.reserve(leaves.size());
    for (const auto& leaf : leaves) {
        layout_tile t;
        t.pixel_core = leaf.pixels;
        t.core = {leaf.pixels.x / s, leaf.pixels.y / s, leaf.pixels.w / s, leaf.pixels.h / s};
        const std::int64_t o = tile_overlap(t.core, overlap);
        t.padded = {t.core.x - o, t.core.y - o, t.core.w + 2 * o, t.core.h + 2 * o};
        t.depth = leaf.depth;
        t.id = static_cast<std::int64_t>(result.tiles.size());
        t.strength = detail::leaf_strength(leaf, options, max_area, shallowest, deepest);
        result.tiles.push_back(t);
    }
    return result;
}

}  // namespace quadflow::tile
