// Test fixtures for the tiled field: hand-made layouts, deterministic tensors, and a tile-local model.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "quadflow/core/tensor.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/quadtree.hpp"

namespace fixtures {

using namespace quadflow;

/// A cols x rows grid of equal cores of `core` latent px, each grown by `overlap` on every side.
inline tile::layout grid_layout(std::int64_t cols, std::int64_t rows, std::int64_t core, std::int64_t overlap,
                                const std::vector<double>& denoise) {
    tile::layout l;
    l.width = cols * core;
    l.height = rows * core;
    l.latent_scale = 8;
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            tile::layout_tile t;
            t.id = static_cast<std::int64_t>(l.tiles.size());
            t.core = rect{c * core, r * core, core, core};
            t.padded = rect{t.core.x - overlap, t.core.y - overlap, core + 2 * overlap, core + 2 * overlap};
            t.strength = denoise[static_cast<std::size_t>(t.id) % denoise.size()];
            t.pixel_core = rect{t.core.x * 8, t.core.y * 8, core * 8, core * 8};
            l.tiles.push_back(t);
        }
    return l;
}

/// `steps` uniform steps from `start` down to 0: steps + 1 sigmas.
inline std::vector<double> uniform_from(double start, int steps) {
    std::vector<double> s;
    for (int i = 0; i <= steps; ++i) s.push_back(start * (1.0 - double(i) / steps));
    return s;
}

/// Deterministic pseudo-random values in about [-amplitude, amplitude].
inline host_tensor wavy(shape4 s, float amplitude, float phase) {
    host_tensor t(s);
    for (std::int64_t i = 0; i < t.numel(); ++i)
        t.span()[static_cast<std::size_t>(i)] =
            amplitude * std::sin(0.731f * float(i) + phase) * std::cos(0.117f * float(i) * phase);
    return t;
}

/// A model that only sees its tile, as real models do: it predicts x0 = (tile mean of x) + target, so
/// neighbouring tiles disagree near their borders and seams appear unless tiles overlap and blend.
struct tile_mean_model {
    const_view target;
    prediction::kind prediction_kind() const { return prediction::kind::denoised; }
    void operator()(const model::batch_request& r, mutable_view out) const {
        const auto& s = r.x.shape();
        for (std::int64_t b = 0; b < s.n; ++b)
            for (std::int64_t c = 0; c < s.c; ++c) {
                double mean = 0;
                for (std::int64_t y = 0; y < s.h; ++y)
                    for (std::int64_t x = 0; x < s.w; ++x) mean += r.x(b, c, y, x);
                mean /= double(s.h * s.w);
                const rect& p = r.tiles[static_cast<std::size_t>(b)].padded;
                for (std::int64_t y = 0; y < s.h; ++y)
                    for (std::int64_t x = 0; x < s.w; ++x)
                        out(b, c, y, x) =
                            static_cast<float>(mean + target(0, c, reflect_index(p.y + y, target.shape().h),
                                                             reflect_index(p.x + x, target.shape().w)));
            }
    }
};

/// A 48 x 40 px quadtree at latent scale 1 with overlap 3: several padded shapes, and reflection at the edges.
inline tile::layout small_quadtree() {
    std::vector<std::uint8_t> pixels(48 * 40 * 3);
    for (std::size_t i = 0; i < pixels.size(); ++i)
        pixels[i] = static_cast<std::uint8_t>(i < pixels.size() / 3 ? (i * 37) % 251 : 120);
    const tile::quadtree_options q{
        .content_threshold = 5, .min_tile_size = 4, .align = 4, .latent_scale = 1, .overlap_pixels = 3};
    return tile::build_quadtree(tile::packed_rgb_view(pixels.data(), 48, 40), q);
}

}  // namespace fixtures
