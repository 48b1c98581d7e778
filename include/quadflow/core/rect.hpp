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

}  // namespace quadflow
