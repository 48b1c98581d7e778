// quadflow metrics: seam score across tile borders, per-region errors, PSNR and SSIM, for tests, reports and
// benchmarks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::metrics {

/// Throws unless `image` (the argument `name` of `function`) is a host tensor of the layout's canvas size.
inline void require_canvas_image(const_view image, const tile::layout& l, const char* function,
                                 const char* name = "image") {
    require_host(image, name);
    if (image.shape().h != l.height || image.shape().w != l.width)
        throw shape_error(std::string(function) + ": image " + to_string(image.shape()) +
                          " does not match the layout's " + std::to_string(l.width) + "x" + std::to_string(l.height));
}

/// Which tile core owns each canvas pixel (the last tile wins where cores overlap, as in grids).
inline std::vector<std::int64_t> core_owner(const tile::layout& l) {
    std::vector<std::int64_t> owner(static_cast<std::size_t>(l.width * l.height), -1);
    for (const tile::layout_tile& t : l.tiles)
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
            for (std::int64_t x = t.core.x; x < t.core.right(); ++x)
                owner[static_cast<std::size_t>(y * l.width + x)] = t.id;
    return owner;
}

/// Seam score: the mean |difference| between horizontally or vertically adjacent pixels whose tile
/// cores differ (pairs across a tile border), divided by the mean |difference| over all adjacent
/// pairs, over every image and channel. 1 means borders are as smooth as the picture; larger values
/// mean visible seams. Returns 0 for a layout without borders or a constant image.
inline double seam_score(const_view image, const tile::layout& l) {
    require_canvas_image(image, l, "seam_score");
    const std::vector<std::int64_t> owner = core_owner(l);
    double border_sum = 0, all_sum = 0;
    std::int64_t border_count = 0, all_count = 0;
    const auto& s = image.shape();
    for (std::int64_t n = 0; n < s.n; ++n)
        for (std::int64_t c = 0; c < s.c; ++c)
            for (std::int64_t y = 0; y < s.h; ++y)
                for (std::int64_t x = 0; x < s.w; ++x) {
                    const std::int64_t here = owner[static_cast<std::size_t>(y * s.w + x)];
                    auto pair = [&](std::int64_t y2, std::int64_t x2) {
                        const double d = std::abs(double(image(n, c, y, x)) - double(image(n, c, y2, x2)));
                        all_sum += d;
                        ++all_count;
                        if (owner[static_cast<std::size_t>(y2 * s.w + x2)] != here) {
                            border_sum += d;
                            ++border_count;
                        }
                    };
                    if (x + 1 < s.w) pair(y, x + 1);
                    if (y + 1 < s.h) pair(y + 1, x);
                }
    if (border_count == 0 || all_sum == 0) return 0.0;
    return (border_sum / double(border_count)) / (all_sum / double(all_count));
}

/// Seam contrast, a blockiness measure (JPEG blockiness metrics compare differences across block edges with
/// the differences beside them): over every pair of horizontally or vertically adjacent pixels p, q whose tile
/// cores differ, where the pixel p' beyond p (away from q) has p's core and q' beyond q has q's, the sum of
/// |v(p) - v(q)| over the sum of (|v(p') - v(p)| + |v(q) - v(q')|) / 2, over every image and channel. About 1
/// where tile borders are as smooth as the picture right beside them, whatever the picture's texture elsewhere;
/// larger values mean seams. Borders of tiles one pixel across are left out; returns 0 when nothing counts.
inline double seam_contrast(const_view image, const tile::layout& l) {
    require_canvas_image(image, l, "seam_contrast");
    const std::vector<std::int64_t> owner = core_owner(l);
    const auto& s = image.shape();
    auto id = [&](std::int64_t y, std::int64_t x) { return owner[static_cast<std::size_t>(y * s.w + x)]; };
    double across = 0, beside = 0;
    for (std::int64_t n = 0; n < s.n; ++n)
        for (std::int64_t c = 0; c < s.c; ++c) {
            auto v = [&](std::int64_t y, std::int64_t x) { return double(image(n, c, y, x)); };
            for (std::int64_t y = 0; y < s.h; ++y)
                for (std::int64_t x = 0; x < s.w; ++x) {
                    // (dy, dx): the step from p = (y, x) to q; p' = p - step, q' = q + step.
                    for (const auto& [dy, dx] : {std::pair<std::int64_t, std::int64_t>{0, 1}, {1, 0}}) {
                        const std::int64_t qy = y + dy, qx = x + dx, py = y - dy, px = x - dx, ry = qy + dy,
                                           rx = qx + dx;
                        if (qy >= s.h || qx >= s.w || py < 0 || px < 0 || ry >= s.h || rx >= s.w) continue;
                        if (id(y, x) == id(qy, qx) || id(py, px) != id(y, x) || id(ry, rx) != id(qy, qx)) continue;
                        across += std::abs(v(y, x) - v(qy, qx));
                        beside += 0.5 * (std::abs(v(py, px) - v(y, x)) + std::abs(v(qy, qx) - v(ry, rx)));
                    }
                }
        }
    return beside > 0 ? across / beside : 0.0;
}

/// Peak signal-to-noise ratio of `a` against `b` in dB, for values whose range spans `peak_to_peak` (2 for images in
/// [-1, 1]): 10 log10(peak_to_peak^2 / mean (a - b)^2); infinite for equal tensors.
inline double psnr(const_view a, const_view b, double peak_to_peak = 2.0) {
    require_same_shape(a.shape(), b.shape(), "a", "b");
    require_contiguous_host(a, "a");
    require_contiguous_host(b, "b");
    require(peak_to_peak > 0.0, "peak_to_peak", peak_to_peak, "must be > 0");
    double sum = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        const double d = double(a.data()[i]) - double(b.data()[i]);
        sum += d * d;
    }
    return 10.0 * std::log10(peak_to_peak * peak_to_peak / (sum / static_cast<double>(a.numel())));
}

/// Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004) of `a` against `b`, for values whose range spans
/// `peak_to_peak` (2 for images in [-1, 1]), as scikit-image's structural_similarity computes it with
/// gaussian_weights=True, sigma=1.5, use_sample_covariance=False, K1 = 0.01, K2 = 0.03: local means, variances and
/// covariance under an 11 x 11 Gaussian window (sigma 1.5, radius 5 = int(3.5 sigma + 0.5)), the SSIM map averaged
/// over the pixels at least 5 px inside the border, then over every channel plane. 1 for equal tensors. Needs
/// planes of at least 11 x 11 px.
inline double ssim(const_view a, const_view b, double peak_to_peak = 2.0) {
    require_same_shape(a.shape(), b.shape(), "a", "b");
    require_contiguous_host(a, "a");
    require_contiguous_host(b, "b");
    require(peak_to_peak > 0.0, "peak_to_peak", peak_to_peak, "must be > 0");
    constexpr int radius = 5;
    constexpr double sigma = 1.5;
    const std::int64_t h = a.shape().h, w = a.shape().w;
    require(h >= 2 * radius + 1 && w >= 2 * radius + 1, "a", std::to_string(h) + "x" + std::to_string(w) + " px",
            "ssim needs planes of at least 11 x 11 px (its Gaussian window)");
    double kernel[2 * radius + 1], total = 0.0;
    for (int i = -radius; i <= radius; ++i) total += kernel[i + radius] = std::exp(-0.5 * i * i / (sigma * sigma));
    for (double& k : kernel) k /= total;
    const double c1 = (0.01 * peak_to_peak) * (0.01 * peak_to_peak), c2 = (0.03 * peak_to_peak) * (0.03 * peak_to_peak);
    // The five local moments, filtered along x (all rows) then along y (the valid rows only).
    const std::int64_t valid_w = w - 2 * radius, valid_h = h - 2 * radius;
    std::vector<double> rows(static_cast<std::size_t>(5 * h * valid_w));
    double sum = 0.0;
    const std::int64_t planes = a.shape().n * a.shape().c;
    for (std::int64_t p = 0; p < planes; ++p) {
        const float* pa = a.data() + p * h * w;
        const float* pb = b.data() + p * h * w;
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < valid_w; ++x) {
                double m[5] = {};
                for (int k = 0; k <= 2 * radius; ++k) {
                    const double u = pa[y * w + x + k], v = pb[y * w + x + k];
                    m[0] += kernel[k] * u;
                    m[1] += kernel[k] * v;
                    m[2] += kernel[k] * u * u;
                    m[3] += kernel[k] * v * v;
                    m[4] += kernel[k] * u * v;
                }
                for (int j = 0; j < 5; ++j) rows[static_cast<std::size_t>((j * h + y) * valid_w + x)] = m[j];
            }
        for (std::int64_t y = 0; y < valid_h; ++y)
            for (std::int64_t x = 0; x < valid_w; ++x) {
                double m[5] = {};
                for (int k = 0; k <= 2 * radius; ++k)
                    for (int j = 0; j < 5; ++j)
                        m[j] += kernel[k] * rows[static_cast<std::size_t>((j * h + y + k) * valid_w + x)];
                const double var_a = m[2] - m[0] * m[0], var_b = m[3] - m[1] * m[1], cov = m[4] - m[0] * m[1];
                sum += ((2 * m[0] * m[1] + c1) * (2 * cov + c2)) /
                       ((m[0] * m[0] + m[1] * m[1] + c1) * (var_a + var_b + c2));
            }
    }
    return sum / static_cast<double>(planes * valid_h * valid_w);
}

/// Mean and max |a - b| over the pixels governed only by the tiles that `select` picks: pixels that
/// every covering tile (by its padded rectangle) is selected for, so that a neighbour's blend weight
/// cannot reach them. Without overlap these are the cores of the selected tiles. All channels count.
struct region_error {
    double mean = 0, max = 0;
    std::int64_t elements = 0;
};

inline region_error tile_region_error(const_view a, const_view b, const tile::layout& l,
                                      const std::function<bool(const tile::layout_tile&)>& select) {
    require_same_shape(a.shape(), b.shape(), "a", "b");
    require_canvas_image(a, l, "tile_region_error", "a");
    require_host(b, "b");
    // 0: uncovered so far, 1: only selected tiles cover it, 2: some unselected tile covers it.
    std::vector<unsigned char> governed(static_cast<std::size_t>(l.width * l.height), 0);
    for (const tile::layout_tile& t : l.tiles) {
        const unsigned char mark = select(t) ? 1 : 2;
        for (std::int64_t y = std::max<std::int64_t>(t.padded.y, 0); y < std::min(t.padded.bottom(), l.height); ++y)
            for (std::int64_t x = std::max<std::int64_t>(t.padded.x, 0); x < std::min(t.padded.right(), l.width); ++x) {
                auto& g = governed[static_cast<std::size_t>(y * l.width + x)];
                g = std::max(g, mark);
            }
    }
    region_error r;
    double sum = 0;
    for (std::int64_t n = 0; n < a.shape().n; ++n)
        for (std::int64_t c = 0; c < a.shape().c; ++c)
            for (std::int64_t y = 0; y < l.height; ++y)
                for (std::int64_t x = 0; x < l.width; ++x) {
                    if (governed[static_cast<std::size_t>(y * l.width + x)] != 1) continue;
                    const double d = std::abs(double(a(n, c, y, x)) - double(b(n, c, y, x)));
                    sum += d;
                    r.max = std::max(r.max, d);
                    ++r.elements;
                }
    if (r.elements > 0) r.mean = sum / double(r.elements);
    return r;
}

}  // namespace quadflow::metrics
