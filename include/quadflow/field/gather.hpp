// quadflow tile gather (CPU): one channel of a tile's padded rectangle copied out of the canvas, mirror-reflected
// outside it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "quadflow/core/config.hpp"
#include "quadflow/core/finite.hpp"
#include "quadflow/core/prefetch.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"

namespace quadflow::field {

namespace detail {

/// Canvas rows are W floats apart, and a tile reads or writes a short piece of each: the hardware
/// prefetcher does not run ahead of such rows, so the gather and the blend ask for the row that lies
/// prefetch_bytes of row pieces ahead (2304 B, six rows of a 96-px tile: the fastest of 1, 2, 2.25, 4
/// and 8 KiB on the grid benchmark, bench/README.md).
inline constexpr std::int64_t prefetch_bytes = 2304;
inline std::int64_t rows_ahead(std::int64_t row_floats) {
    return std::clamp<std::int64_t>(prefetch_bytes / (4 * row_floats), 1, 64);
}

}  // namespace detail

/// Copies channel `c` of the padded rectangle `r` of image `n` of the contiguous host canvas `x` into `out`
/// (r.h x r.w), reflecting outside the canvas. With `check`, returns whether a value copied from the rows'
/// in-canvas columns is NaN or infinite.
QUADFLOW_CPU_DISPATCH inline bool gather_tile(const_view x, std::int64_t n, std::int64_t c, const rect& r, float* out,
                                              bool check) {
    std::uint32_t non_finite = 0;
    const std::int64_t H = x.shape().h, W = x.shape().w;
    const std::int64_t inside_begin = std::clamp<std::int64_t>(-r.x, 0, r.w);
    const std::int64_t inside_end = std::clamp<std::int64_t>(W - r.x, inside_begin, r.w);
    const std::int64_t ahead = detail::rows_ahead(r.w);
    for (std::int64_t y = 0; y < r.h; ++y) {
        const float* row = &x(n, c, reflect_index(r.y + y, H), 0);
        if (y + ahead < r.h) {
            const float* next = &x(n, c, reflect_index(r.y + y + ahead, H), 0) + r.x;
            prefetch_range<prefetch_intent::read>(next + inside_begin, next + inside_end);
        }
        float* dst = out + y * r.w;
        for (std::int64_t i = 0; i < inside_begin; ++i) dst[i] = row[reflect_index(r.x + i, W)];
        const float* src = row + r.x;
        std::memcpy(dst + inside_begin, src + inside_begin,
                    static_cast<std::size_t>(inside_end - inside_begin) * sizeof(float));
        if (check)
            for (std::int64_t i = inside_begin; i < inside_end; ++i)
                non_finite |= quadflow::detail::non_finite_bit(dst[i]);
        for (std::int64_t i = inside_end; i < r.w; ++i) dst[i] = row[reflect_index(r.x + i, W)];
    }
    return non_finite != 0;
}

/// Copies the crop of image `n` of the contiguous host auxiliary image `aux` ((1 or N) x C x (H * scale) x
/// (W * scale), for a W x H latent canvas) under the latent rectangle `r`: every channel, (r.h * scale) x
/// (r.w * scale) values each, into `out`, reflected past the canvas as reflect_scaled_index does.
inline void gather_auxiliary(const_view aux, std::int64_t n, const rect& r, std::int64_t W, std::int64_t H, int scale,
                             float* out) {
    const rect p = scaled(r, scale);
    const std::int64_t image = aux.shape().n == 1 ? 0 : n, width = W * scale;
    const std::int64_t inside_begin = std::clamp<std::int64_t>(-p.x, 0, p.w);
    const std::int64_t inside_end = std::clamp<std::int64_t>(width - p.x, inside_begin, p.w);
    for (std::int64_t c = 0; c < aux.shape().c; ++c)
        for (std::int64_t y = 0; y < p.h; ++y) {
            const float* row = &aux(image, c, reflect_scaled_index(p.y + y, H, scale), 0);
            float* dst = out + (c * p.h + y) * p.w;
            for (std::int64_t i = 0; i < inside_begin; ++i) dst[i] = row[reflect_scaled_index(p.x + i, W, scale)];
            std::memcpy(dst + inside_begin, row + p.x + inside_begin,
                        static_cast<std::size_t>(inside_end - inside_begin) * sizeof(float));
            for (std::int64_t i = inside_end; i < p.w; ++i) dst[i] = row[reflect_scaled_index(p.x + i, W, scale)];
        }
}

}  // namespace quadflow::field
