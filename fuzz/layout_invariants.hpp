// Invariants every layout the tilers return must satisfy; a violation aborts the fuzz target (a finding).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "quadflow/blend/weights.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/field/blend_plan.hpp"
#include "quadflow/tile/layout.hpp"

namespace fuzz {

[[noreturn]] inline void finding(const std::string& what) {
    std::fprintf(stderr, "quadflow fuzz finding: %s\n", what.c_str());
    std::abort();
}

/// Largest canvas (latent pixels, and tile rows) the targets validate, and the largest whose per-pixel
/// invariants they check (both cost time per pixel; larger layouts still exercise the builders).
inline constexpr std::int64_t max_validated_pixels = std::int64_t{1} << 22;
inline constexpr std::int64_t max_checked_pixels = std::int64_t{1} << 18;
/// Largest sum of padded tile areas whose weights the targets check (a grid whose overlap is one less than
/// its tile covers each pixel tile^2 times: valid, but slow to check).
inline constexpr std::int64_t max_checked_weights = std::int64_t{1} << 22;

/// The layout validates, no core leaves the canvas, every pixel is covered by some padded rectangle, and (when
/// `cores_partition`) every pixel lies in exactly one core. Blend weights of `weights` are finite and positive
/// on every padded pixel, and so is the reciprocal of their sum on every canvas pixel.
inline void check_layout(const quadflow::tile::layout& layout, bool cores_partition,
                         quadflow::blend::weight_params weights) {
    using namespace quadflow;
    if (layout.width > max_validated_pixels / std::max<std::int64_t>(layout.height, 1)) return;
    std::int64_t tile_rows = 0;  // validate() visits each tile once per row it spans
    for (const tile::layout_tile& t : layout.tiles) tile_rows += t.padded.h;
    if (tile_rows > max_validated_pixels) return;
    try {
        tile::validate(layout);
    } catch (const error& e) {
        finding(std::string("a tiler returned a layout that does not validate: ") + e.what());
    }
    const std::int64_t width = layout.width, height = layout.height;
    if (width * height > max_checked_pixels) return;
    if (!(static_cast<std::int64_t>(layout.tiles.size()) <= width * height))
        finding(std::to_string(layout.tiles.size()) + " tiles on " + std::to_string(width * height) + " pixels");
    std::int64_t padded_area = 0;
    for (const tile::layout_tile& t : layout.tiles) padded_area += t.padded.area();
    const bool check_weights = padded_area <= max_checked_weights;
    std::vector<int> cores(static_cast<std::size_t>(width * height), 0);
    std::int64_t core_area = 0;
    for (const tile::layout_tile& t : layout.tiles) {
        if (!(t.core.x >= 0 && t.core.y >= 0 && t.core.right() <= width && t.core.bottom() <= height))
            finding("tile " + std::to_string(t.id) + " core " + to_string(t.core) + " outside the canvas");
        core_area += t.core.area();
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
            for (std::int64_t x = t.core.x; x < t.core.right(); ++x) ++cores[static_cast<std::size_t>(y * width + x)];
        for (std::int64_t y = 0; check_weights && y < t.padded.h; ++y)
            for (std::int64_t x = 0; x < t.padded.w; ++x) {
                const float w = blend::tile_weight(weights, t, y, x);
                if (!(std::isfinite(w) && w > 0.0f))
                    finding("tile " + std::to_string(t.id) + " weight " + std::to_string(w) + " at (" +
                            std::to_string(x) + ", " + std::to_string(y) + ")");
            }
    }
    if (cores_partition) {
        if (!(core_area == width * height))
            finding("core areas sum to " + std::to_string(core_area) + ", not " + std::to_string(width * height));
        for (std::size_t i = 0; i < cores.size(); ++i)
            if (!(cores[i] == 1))
                finding("pixel " + std::to_string(i) + " lies in " + std::to_string(cores[i]) + " cores");
    }
    if (!check_weights) return;
    try {
        const field::blend_plan plan(layout, weights);
        for (float inverse : plan.inverse_weight_sum())
            if (!(std::isfinite(inverse) && inverse > 0.0f))
                finding("1 / (sum of weights) = " + std::to_string(inverse));
    } catch (const error& e) {
        finding(std::string("blend_plan refused a valid layout: ") + e.what());
    }
}

}  // namespace fuzz
