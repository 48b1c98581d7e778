// quadflow field internals: what both tiled fields (CPU and CUDA) know of a tile, for the run (its start step, side
// and peak strength) and per evaluation (the policy's tile context, the model's tile metadata, auxiliary crops).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/field/options.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field::detail {

/// What a field knows of a tile for the whole run: its img2img start step, smaller side in image pixels
/// (skip's predicate) and largest strength-map value over its padded rectangle (mask's release test).
struct tile_facts {
    int start_step = 0;
    std::int64_t min_pixel_side = 0;
    float max_pixel_strength = 1.0f;
};

/// The run-long facts of every tile of `layout` (see tile_facts); `strength_values` is the map ((1 or N) x H x W) or
/// empty.
inline std::vector<tile_facts> tile_facts_of(const tile::layout& layout, const std::vector<double>& sigmas,
                                             schedule::strength_rule rule, std::int64_t strength_images,
                                             std::span<const float> strength_values) {
    std::vector<tile_facts> plans(layout.tiles.size());
    const std::size_t steps = sigmas.empty() ? 1 : sigmas.size() - 1;
    const std::int64_t H = layout.height, W = layout.width;
    for (std::size_t t = 0; t < plans.size(); ++t) {
        const tile::layout_tile& tl = layout.tiles[t];
        tile_facts& p = plans[t];
        p.min_pixel_side = std::min(tl.core.w, tl.core.h) * layout.latent_scale;
        p.start_step = sigmas.empty() ? 0 : static_cast<int>(schedule::img2img_start_index(rule, steps, tl.strength));
        if (strength_values.empty()) continue;
        float peak = 0.0f;
        for (std::int64_t n = 0; n < strength_images; ++n)
            for (std::int64_t y = 0; y < tl.padded.h; ++y)
                for (std::int64_t x = 0; x < tl.padded.w; ++x)
                    peak = std::max(
                        peak, strength_values[static_cast<std::size_t>((n * H + reflect_index(tl.padded.y + y, H)) * W +
                                                                       reflect_index(tl.padded.x + x, W))]);
        p.max_pixel_strength = peak;
    }
    return plans;
}

/// Index of the sigma of `sigmas` nearest to `sigma`, the first of equally near ones (comfyui-quadtree-tile's
/// find_nearest: argmin |sigmas - sigma|); 0 for an empty schedule.
inline int nearest_sigma_index(const std::vector<double>& sigmas, double sigma) {
    int best = 0;
    for (std::size_t i = 1; i < sigmas.size(); ++i)
        if (std::abs(sigmas[i] - sigma) < std::abs(sigmas[static_cast<std::size_t>(best)] - sigma))
            best = static_cast<int>(i);
    return best;
}

/// The policy's view of tile `tile` (with run-long plan `plan`) at an evaluation of step `step`, noise level
/// `sigma`, on the schedule `sigmas` (empty: a schedule of one step; tau then stays 1), whose index nearest to
/// sigma is `sigma_index` (nearest_sigma_index, computed once per evaluation); `has_original`: img2img.
inline policy::tile_context tile_context_at(const tile::layout_tile& tile, const tile_facts& plan, double sigma,
                                            int step, const std::vector<double>& sigmas, int sigma_index,
                                            bool has_original) {
    policy::tile_context c;
    c.strength = static_cast<float>(tile.strength);
    c.sigma = static_cast<float>(sigma);
    c.step = step;
    c.total_steps = sigmas.empty() ? 1 : static_cast<int>(sigmas.size()) - 1;
    c.start_step = plan.start_step;
    if (sigmas.size() >= 2) {
        const double first = sigmas.front(), last = sigmas.back();
        c.tau = static_cast<float>((sigma - last) / (first - last));
    }
    c.min_pixel_side = plan.min_pixel_side;
    c.max_pixel_strength = plan.max_pixel_strength;
    c.sigma_index = sigma_index;
    c.has_original = has_original;
    return c;
}

/// The metadata a model gets for tile `t` of image `image`.
inline model::tile_info tile_info_of(const tile::layout_tile& t, int latent_scale, std::int64_t image) {
    return model::tile_info{
        t.padded, t.core, t.id, image, scaled(t.padded, latent_scale), scaled(t.core, latent_scale), t.condition};
}

/// Values of auxiliary canvas `a`'s crops per latent pixel of a tile: C * scale^2. Its arena holds a tile's crops at
/// the tile's latent slot / latent channels * this.
inline std::int64_t auxiliary_values_per_pixel(const auxiliary_canvas& a) {
    return a.data.shape().c * std::int64_t{a.scale} * a.scale;
}

/// The crops of a model batch in auxiliary arena `arena`: `count` tiles of h x w latent px whose latent input starts
/// at element `latent_offset` of the latent arena (tiles of `channels` channels).
inline const_view auxiliary_batch(const auxiliary_canvas& a, const float* arena, std::int64_t latent_offset,
                                  std::int64_t channels, std::int64_t count, std::int64_t h, std::int64_t w,
                                  memory_space space) {
    return const_view(arena + latent_offset / channels * auxiliary_values_per_pixel(a),
                      shape4{count, a.data.shape().c, h * a.scale, w * a.scale}, space);
}

}  // namespace quadflow::field::detail
