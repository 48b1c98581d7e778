// quadflow rectangles in latent pixels and mirror reflection of coordinates outside the canvas.
#pragma once

#include <cstdint>
#include <string>

#include "quadflow/core/config.hpp"

namespace quadflow {

/// An axis-aligned rectangle: columns [x, x + w), rows [y, y + h). May extend outside a canvas.
struct rect {
    std::int64_t x = 0, y = 0, w = 0, h = 0;

    QUADFLOW_HOST_DEVICE constexpr std::int64_t area() const { return w * h; }
    QUADFLOW_HOST_DEVICE constexpr std::int64_t right() const { return x + w; }
    QUADFLOW_HOST_DEVICE constexpr std::int64_t bottom() const { return y + h; }
    QUADFLOW_HOST_DEVICE constexpr bool contains(std::int64_t px, std::int64_t py) const {
        return px >= x && px < x + w && py >= y && py < y + h;
    }
    friend constexpr bool operator==(const rect&, const rect&) = default;
};

/// The part of `r` inside a width x height canvas starting at (0, 0); empty (w or h 0) where they do not meet.
QUADFLOW_HOST_DEVICE constexpr rect clipped(const rect& r, std::int64_t width, std::int64_t height) {
    const std::int64_t x0 = r.x > 0 ? r.x : 0, y0 = r.y > 0 ? r.y : 0;
    const std::int64_t x1 = r.right() < width ? r.right() : width, y1 = r.bottom() < height ? r.bottom() : height;
    return rect{x0, y0, x1 > x0 ? x1 - x0 : 0, y1 > y0 ? y1 - y0 : 0};
}

inline std::string to_string(const rect& r) {
    return "(x=" + std::to_string(r.x) + ", y=" + std::to_string(r.y) + ", w=" + std::to_string(r.w) +
           ", h=" + std::to_string(r.h) + ")";
}

/// Mirror index into [0, n) without repeating the edge (torch 'reflect' padding: -1 -> 1, n -> n - 2),
/// continued periodically so that any offset is defined (period 2(n - 1)); n == 1 maps to 0.
QUADFLOW_HOST_DEVICE constexpr std::int64_t reflect_index(std::int64_t i, std::int64_t n) {
    if (n <= 1) return 0;
    const std::int64_t period = 2 * (n - 1);
    std::int64_t m = i % period;
    if (m < 0) m += period;
    return m < n ? m : period - m;
}

/// reflect_index on a grid `scale` times finer: index p of a row of n * scale values (an auxiliary image at `scale`
/// pixels per latent pixel) maps to the mirror image of its latent pixel's reflection, sub-pixels reversed in a
/// reflected pixel, so a crop at the finer scale is the scaled-up crop of the latent grid (mirror about the centre
/// of the edge latent pixel). scale == 1 gives reflect_index; n == 1 keeps the sub-pixel.
QUADFLOW_HOST_DEVICE constexpr std::int64_t reflect_scaled_index(std::int64_t p, std::int64_t n, std::int64_t scale) {
    const std::int64_t latent = p >= 0 ? p / scale : -((-p + scale - 1) / scale);
    const std::int64_t sub = p - latent * scale;
    if (n <= 1) return sub;
    const std::int64_t period = 2 * (n - 1);
    std::int64_t m = latent % period;
    if (m < 0) m += period;
    return m < n ? m * scale + sub : (period - m) * scale + (scale - 1 - sub);
}

/// `r` in a grid `scale` times finer (latent pixels to image pixels).
QUADFLOW_HOST_DEVICE constexpr rect scaled(const rect& r, std::int64_t scale) {
    return rect{r.x * scale, r.y * scale, r.w * scale, r.h * scale};
}

}  // namespace quadflow
