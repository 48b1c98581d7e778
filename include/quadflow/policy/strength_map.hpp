// quadflow strength maps for the mask policy: a layout's tile strengths painted per pixel, and a slope limit that ramps
// them at borders.
//
// The `mask` policy (Differential Diffusion) reads a per-pixel strength map. Painted from a layout's cores, the
// map steps at every border between tiles of different strength, and so does the result. `slope_limited` lowers
// the map to the largest function below it that changes by at most `slope` per latent pixel:
//
//   s(p) = min over pixels q of ( d(q) + slope * dist(p, q) ),  dist = Chebyshev distance max(|dx|, |dy|)
//
// so s <= d everywhere (no tile's largest pixel strength rises: no tile is released to the model earlier) and
// the higher-strength side of a border ramps down to its lower neighbour over (d_high - d_low) / slope pixels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::policy {

/// Per-pixel strength of a layout, 1 x 1 x H x W: each tile's core painted with its denoise, later tiles over
/// earlier ones where cores overlap; pixels no core covers are 0. The `mask` policy's map for a layout.
inline host_tensor paint_strength_map(const tile::layout& l) {
    host_tensor map(shape4{1, 1, l.height, l.width});
    for (const tile::layout_tile& t : l.tiles) {
        const std::int64_t y0 = std::max<std::int64_t>(t.core.y, 0), y1 = std::min(t.core.bottom(), l.height);
        const std::int64_t x0 = std::max<std::int64_t>(t.core.x, 0), x1 = std::min(t.core.right(), l.width);
        for (std::int64_t y = y0; y < y1; ++y)
            for (std::int64_t x = x0; x < x1; ++x) map(0, 0, y, x) = static_cast<float>(t.strength);
    }
    return map;
}

/// The largest slope-Lipschitz map below `map` (N x 1 x H x W, host), per image:
/// s(p) = min_q map(q) + slope * max(|p.x - q.x|, |p.y - q.y|) (Chebyshev distance, so the 8 neighbours of a pixel
/// differ from it by at most `slope`). Exact, O(N H W): the two raster passes of a chamfer distance transform with
/// unit weights on all 8 neighbours, which give the chessboard distance exactly, run as a min-plus propagation.
/// `slope` is in strength units per latent pixel; +infinity returns the map unchanged. Throws
/// quadflow::invalid_argument for slope <= 0 or NaN, shape_error for a device view or a channel count other than 1.
inline host_tensor slope_limited(const_view map, double slope) {
    require(slope > 0.0, "slope", slope, "must be > 0 (strength per latent pixel)");
    require_host(map, "strength map");
    const shape4 s = map.shape();
    if (s.c != 1) throw shape_error("strength map has shape " + to_string(s) + " but needs [N, 1, H, W]");
    host_tensor out(s);
    for (std::int64_t n = 0; n < s.n; ++n)
        for (std::int64_t y = 0; y < s.h; ++y)
            for (std::int64_t x = 0; x < s.w; ++x) out(n, 0, y, x) = map(n, 0, y, x);
    if (std::isinf(slope)) return out;
    const float step = static_cast<float>(slope);
    for (std::int64_t n = 0; n < s.n; ++n) {
        float* v = &out(n, 0, 0, 0);
        auto at = [&](std::int64_t y, std::int64_t x) -> float& { return v[y * s.w + x]; };
        // Forward: from the left, upper-left, up and upper-right neighbours.
        for (std::int64_t y = 0; y < s.h; ++y)
            for (std::int64_t x = 0; x < s.w; ++x) {
                float m = at(y, x);
                if (x > 0) m = std::min(m, at(y, x - 1) + step);
                if (y > 0) {
                    for (std::int64_t dx = -1; dx <= 1; ++dx)
                        if (x + dx >= 0 && x + dx < s.w) m = std::min(m, at(y - 1, x + dx) + step);
                }
                at(y, x) = m;
            }
        // Backward: from the right, lower-right, down and lower-left neighbours.
        for (std::int64_t y = s.h - 1; y >= 0; --y)
            for (std::int64_t x = s.w - 1; x >= 0; --x) {
                float m = at(y, x);
                if (x + 1 < s.w) m = std::min(m, at(y, x + 1) + step);
                if (y + 1 < s.h) {
                    for (std::int64_t dx = -1; dx <= 1; ++dx)
                        if (x + dx >= 0 && x + dx < s.w) m = std::min(m, at(y + 1, x + dx) + step);
                }
                at(y, x) = m;
            }
    }
    return out;
}

}  // namespace quadflow::policy
