// quadflow app: a picture of a tile layout drawn over its image, tile borders coloured by denoise, with a legend.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "quadflow/core/error.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow_app/image_io.hpp"

namespace quadflow::app {

/// Maps a tile's denoise to a colour: the layout's lowest denoise to the start of colour_map, its highest to the
/// end. When every tile has the same denoise d, the colour is colour_map(d).
struct denoise_colour_scale {
    double low = 0.0, high = 1.0;

    bool single_value() const { return high - low < 1e-9; }
    double position(double denoise) const {
        return single_value() ? denoise : std::clamp((denoise - low) / (high - low), 0.0, 1.0);
    }
    rgb colour(double denoise) const { return colour_map(position(denoise)); }
};

inline denoise_colour_scale colour_scale_of(const tile::layout& layout) {
    require(!layout.tiles.empty(), "layout.tiles.size()", 0, "a layout needs at least one tile");
    const auto [lowest, highest] = std::minmax_element(
        layout.tiles.begin(), layout.tiles.end(),
        [](const tile::layout_tile& a, const tile::layout_tile& b) { return a.strength < b.strength; });
    return {lowest->strength, highest->strength};
}

/// Border width in image pixels of each tile's core outline in draw_tile_overlay.
inline std::int64_t overlay_border_width(std::int64_t pixel_width, std::int64_t pixel_height) {
    return std::max<std::int64_t>(1, std::min(pixel_width, pixel_height) / 256);
}

/// Opacity of the denoise colour laid over each tile's inside in draw_tile_overlay.
inline constexpr double tint_opacity = 0.25;

/// Blends `colour` over `area` (clipped to the image) with the given opacity in [0, 1].
inline void tint_rect(rgb_image& image, const rect& area, rgb colour, double opacity) {
    const std::int64_t x0 = std::max<std::int64_t>(area.x, 0), x1 = std::min(area.right(), image.width);
    const std::int64_t y0 = std::max<std::int64_t>(area.y, 0), y1 = std::min(area.bottom(), image.height);
    auto blend = [opacity](std::uint8_t below, std::uint8_t above) {
        return static_cast<std::uint8_t>(std::lround((1.0 - opacity) * below + opacity * above));
    };
    for (std::int64_t y = y0; y < y1; ++y)
        for (std::int64_t x = x0; x < x1; ++x) {
            const rgb below = image.at(x, y);
            image.set(x, y, {blend(below.r, colour.r), blend(below.g, colour.g), blend(below.b, colour.b)});
        }
}

namespace detail {
inline std::string denoise_label(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.2f", value);
    return buffer;
}
}  // namespace detail

namespace detail {

/// The sizes of draw_tile_overlay's legend strip for a layout `width` px wide with `tiles` tiles, and the width of
/// the canvas that holds it.
struct overlay_legend {
    int text_scale = 1;
    std::int64_t unit = 1, margin = 0, text_h = 0;
    std::string title = "denoise", count;
    std::int64_t title_w = 0, count_w = 0, bar_h = 0, tick_h = 0, label_gap = 0;
    std::int64_t height = 0, canvas_width = 0;
};

inline overlay_legend overlay_legend_of(std::int64_t width, std::size_t tiles) {
    overlay_legend l;
    l.text_scale = static_cast<int>(std::clamp<std::int64_t>(width / 256, 1, 6));
    l.unit = l.text_scale;
    l.margin = 6 * l.unit;
    l.text_h = text_height(l.text_scale);
    l.count = std::to_string(tiles) + (tiles == 1 ? " tile" : " tiles");
    l.title_w = text_width(l.title, l.text_scale);
    l.count_w = text_width(l.count, l.text_scale);
    l.bar_h = 2 * l.text_h;
    l.tick_h = 2 * l.unit;
    l.label_gap = 2 * l.unit;
    const std::int64_t min_bar_w = 12 * l.text_h;
    l.height = l.margin + l.bar_h + l.tick_h + l.label_gap + l.text_h + 2 * l.unit + l.margin;
    l.canvas_width = std::max(width, 4 * l.margin + l.title_w + min_bar_w + l.count_w);
    return l;
}

/// Copies the top-left width x height of `image` into `canvas`, dimmed towards dark grey so that the borders stand
/// out on its light and dark parts alike.
inline void draw_dimmed(rgb_image& canvas, const rgb_image& image, std::int64_t width, std::int64_t height) {
    for (std::int64_t y = 0; y < height; ++y) {
        const std::uint8_t* source = image.pixels.data() + y * image.width * 3;
        std::uint8_t* target = canvas.pixels.data() + y * canvas.width * 3;
        for (std::int64_t i = 0; i < width * 3; ++i)
            target[i] = static_cast<std::uint8_t>(std::lround(0.55 * source[i] + 0.45 * 40.0));
    }
}

/// Tints each tile's core and outlines it inside the core in the colour of its denoise.
inline void draw_tile_cores(rgb_image& canvas, const tile::layout& layout, const denoise_colour_scale& scale) {
    const std::int64_t border = overlay_border_width(layout.pixel_width(), layout.pixel_height());
    for (const tile::layout_tile& t : layout.tiles) {
        const std::int64_t s = layout.latent_scale;
        const rect core{t.core.x * s, t.core.y * s, t.core.w * s, t.core.h * s};
        const std::int64_t thickness = std::min(border, std::max<std::int64_t>(1, std::min(core.w, core.h) / 8));
        const rgb colour = scale.colour(t.strength);
        tint_rect(canvas, core, colour, tint_opacity);
        draw_rect_outline(canvas, core, colour, thickness);
    }
}

/// The legend from row `top` down: title, colour bar with ticks and labels, tile count; all vertically centred on
/// the bar.
inline void draw_legend(rgb_image& canvas, std::int64_t top, const overlay_legend& l,
                        const denoise_colour_scale& scale) {
    const rgb text_colour{235, 235, 235}, frame{150, 150, 150};
    const std::int64_t bar_x = 2 * l.margin + l.title_w, bar_y = top + l.margin;
    const std::int64_t bar_w = canvas.width - 4 * l.margin - l.title_w - l.count_w;
    const std::int64_t text_y = bar_y + (l.bar_h - l.text_h) / 2;
    draw_text(canvas, l.margin, text_y, l.title, text_colour, l.text_scale);
    draw_text(canvas, canvas.width - l.margin - l.count_w, text_y, l.count, text_colour, l.text_scale);
    for (std::int64_t x = 0; x < bar_w; ++x) {
        const double fraction = bar_w > 1 ? double(x) / double(bar_w - 1) : 0.0;
        const double denoise = scale.low + (scale.high - scale.low) * fraction;
        fill_rect(canvas, {bar_x + x, bar_y, 1, l.bar_h}, scale.colour(denoise));
    }
    draw_rect_outline(canvas, {bar_x - 1, bar_y - 1, bar_w + 2, l.bar_h + 2}, frame);

    const std::int64_t label_y = bar_y + l.bar_h + l.tick_h + l.label_gap;
    auto tick = [&](double fraction, double value) {
        const std::int64_t x = bar_x + static_cast<std::int64_t>(fraction * double(bar_w - l.unit));
        fill_rect(canvas, {x, bar_y + l.bar_h, l.unit, l.tick_h}, frame);
        const std::string label = denoise_label(value);
        const std::int64_t label_w = text_width(label, l.text_scale);
        const std::int64_t label_x = std::clamp(x + l.unit / 2 - label_w / 2, bar_x, bar_x + bar_w - label_w);
        draw_text(canvas, label_x, label_y, label, text_colour, l.text_scale);
    };
    if (scale.single_value()) {
        tick(0.5, scale.low);
    } else {
        const std::int64_t label_room = 2 * text_width("0.00", l.text_scale);
        const int ticks = bar_w >= 5 * label_room ? 5 : 3;
        for (int i = 0; i < ticks; ++i) {
            const double fraction = double(i) / double(ticks - 1);
            tick(fraction, scale.low + (scale.high - scale.low) * fraction);
        }
    }
}

}  // namespace detail

/// The image cropped to the layout's pixel size and dimmed, each tile's core tinted and outlined in the colour of
/// its denoise (the outline inside the core, so that neighbours never paint over each other), and below it a
/// legend strip: "denoise", a colour bar from the lowest to the highest denoise with labelled ticks, the tile count.
inline rgb_image draw_tile_overlay(const rgb_image& image, const tile::layout& layout) {
    const std::int64_t width = layout.pixel_width(), height = layout.pixel_height();
    require(width > 0 && height > 0, "layout pixel size", std::to_string(width) + "x" + std::to_string(height),
            "must be positive");
    require(width <= image.width && height <= image.height, "layout pixel size",
            std::to_string(width) + "x" + std::to_string(height),
            "must fit in the image " + std::to_string(image.width) + "x" + std::to_string(image.height));
    const denoise_colour_scale scale = colour_scale_of(layout);
    const detail::overlay_legend legend = detail::overlay_legend_of(width, layout.tiles.size());
    rgb_image canvas(legend.canvas_width, height + legend.height, rgb{24, 24, 28});
    detail::draw_dimmed(canvas, image, width, height);
    detail::draw_tile_cores(canvas, layout, scale);
    detail::draw_legend(canvas, height, legend, scale);
    return canvas;
}

}  // namespace quadflow::app
