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

    const rgb background{24, 24, 28}, text_colour{235, 235, 235}, frame{150, 150, 150};
    const int text_scale = static_cast<int>(std::clamp<std::int64_t>(width / 256, 1, 6));
    const std::int64_t unit = text_scale, margin = 6 * unit, text_h = text_height(text_scale);
    const std::string title = "denoise";
    const std::string count = std::to_string(layout.tiles.size()) + (layout.tiles.size() == 1 ? " tile" : " tiles");
    const std::int64_t title_w = text_width(title, text_scale), count_w = text_width(count, text_scale);
    const std::int64_t bar_h = 2 * text_h, tick_h = 2 * unit, label_gap = 2 * unit;
    const std::int64_t min_bar_w = 12 * text_h;
    const std::int64_t legend_h = margin + bar_h + tick_h + label_gap + text_h + 2 * unit + margin;
    const std::int64_t canvas_w = std::max(width, 4 * margin + title_w + min_bar_w + count_w);

    rgb_image canvas(canvas_w, height + legend_h, background);
    // The photograph is dimmed towards dark grey so that the borders stand out on its light and dark parts alike.
    for (std::int64_t y = 0; y < height; ++y) {
        const std::uint8_t* source = image.pixels.data() + y * image.width * 3;
        std::uint8_t* target = canvas.pixels.data() + y * canvas_w * 3;
        for (std::int64_t i = 0; i < width * 3; ++i)
            target[i] = static_cast<std::uint8_t>(std::lround(0.55 * source[i] + 0.45 * 40.0));
    }

    const std::int64_t border = overlay_border_width(width, height);
    for (const tile::layout_tile& t : layout.tiles) {
        const std::int64_t s = layout.latent_scale;
        const rect core{t.core.x * s, t.core.y * s, t.core.w * s, t.core.h * s};
        const std::int64_t thickness = std::min(border, std::max<std::int64_t>(1, std::min(core.w, core.h) / 8));
        const rgb colour = scale.colour(t.strength);
        tint_rect(canvas, core, colour, tint_opacity);
        draw_rect_outline(canvas, core, colour, thickness);
    }

    // Legend: title, colour bar with ticks and labels, tile count; all vertically centred on the bar.
    const std::int64_t bar_x = 2 * margin + title_w, bar_y = height + margin;
    const std::int64_t bar_w = canvas_w - 4 * margin - title_w - count_w;
    const std::int64_t text_y = bar_y + (bar_h - text_h) / 2;
    draw_text(canvas, margin, text_y, title, text_colour, text_scale);
    draw_text(canvas, canvas_w - margin - count_w, text_y, count, text_colour, text_scale);
    for (std::int64_t x = 0; x < bar_w; ++x) {
        const double fraction = bar_w > 1 ? double(x) / double(bar_w - 1) : 0.0;
        const double denoise = scale.low + (scale.high - scale.low) * fraction;
        fill_rect(canvas, {bar_x + x, bar_y, 1, bar_h}, scale.colour(denoise));
    }
    draw_rect_outline(canvas, {bar_x - 1, bar_y - 1, bar_w + 2, bar_h + 2}, frame);

    const std::int64_t label_y = bar_y + bar_h + tick_h + label_gap;
    auto tick = [&](double fraction, double value) {
        const std::int64_t x = bar_x + static_cast<std::int64_t>(fraction * double(bar_w - unit));
        fill_rect(canvas, {x, bar_y + bar_h, unit, tick_h}, frame);
        const std::string label = detail::denoise_label(value);
        const std::int64_t label_w = text_width(label, text_scale);
        const std::int64_t label_x = std::clamp(x + unit / 2 - label_w / 2, bar_x, bar_x + bar_w - label_w);
        draw_text(canvas, label_x, label_y, label, text_colour, text_scale);
    };
    if (scale.single_value()) {
        tick(0.5, scale.low);
    } else {
        const std::int64_t label_room = 2 * text_width("0.00", text_scale);
        const int ticks = bar_w >= 5 * label_room ? 5 : 3;
        for (int i = 0; i < ticks; ++i) {
            const double fraction = double(i) / double(ticks - 1);
            tick(fraction, scale.low + (scale.high - scale.low) * fraction);
        }
    }
    return canvas;
}

}  // namespace quadflow::app
