// quadflow blend weights: uniform, Gaussian (Mixture of Diffusers) and smootherstep ramps, per axis, host and device.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

#include "quadflow/core/config.hpp"
#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::blend {

/// How a tile's output is weighted before the per-pixel normalisation by the summed weights.
enum class weight_kind {
    uniform,       ///< 1 everywhere (MultiDiffusion)
    gaussian,      ///< Gaussian centred on the padded tile (Mixture of Diffusers, comfyui-quadtree-tile)
    smootherstep,  ///< 1 on the core, smootherstep ramps across the padding (stable-diffusion.cpp tiling)
};

constexpr auto enum_names(weight_kind) {
    return make_enum_table<weight_kind>("weights", "weight_kind",
                                        {{weight_kind::uniform, "uniform"},
                                         {weight_kind::gaussian, "gaussian"},
                                         {weight_kind::smootherstep, "smootherstep"}});
}

inline std::string_view to_string(weight_kind kind) { return quadflow::to_string(kind); }

/// Parses uniform|gaussian|smootherstep.
inline weight_kind parse_weight_kind(std::string_view name) { return quadflow::parse<weight_kind>(name); }

/// Variance 0.01 is Mixture of Diffusers (std 0.1 * tile size); comfyui-quadtree-tile uses 0.02.
struct weight_params {
    weight_kind kind = weight_kind::gaussian;
    float variance = 0.01f;  ///< Gaussian variance in tile-normalised coordinates
};

/// Throws invalid_argument unless the Gaussian variance is finite and > 0.
inline void validate(const weight_params& params) {
    require(std::isfinite(params.variance) && params.variance > 0.0f, "weights.variance", params.variance,
            "must be finite and > 0");
}

/// Floor of one axis factor, so that the product of two factors stays a normal float (> 0) for any variance.
inline constexpr float min_axis_weight = 1e-18f;

/// Gaussian factor of pixel i on an axis of `extent` pixels: exp(-(i - (W-1)/2)^2 / (2 variance W^2)),
/// Mixture of Diffusers' formula over that axis's own extent.
QUADFLOW_HOST_DEVICE inline float gaussian_axis_weight(std::int64_t i, std::int64_t extent, float variance) {
    const float w = static_cast<float>(extent);
    const float d = static_cast<float>(i) - 0.5f * (w - 1.0f);
    const float g = expf(-(d * d) / (2.0f * variance * w * w));
    return g > min_axis_weight ? g : min_axis_weight;
}

/// Perlin's smootherstep s(t) = t^3 (6t^2 - 15t + 10), for t in [0, 1].
QUADFLOW_HOST_DEVICE inline float smootherstep(float t) { return t * t * t * (t * (6.0f * t - 15.0f) + 10.0f); }

/// Smootherstep factor of pixel i on a padded axis of `extent` pixels with `before` padding pixels on the
/// left/top and `after` on the right/bottom: s((i+1)/(before+1)) in the left padding, s((W-i)/(after+1))
/// in the right padding, 1 in the core; in (0, 1] on the whole extent.
QUADFLOW_HOST_DEVICE inline float smootherstep_axis_weight(std::int64_t i, std::int64_t extent, std::int64_t before,
                                                           std::int64_t after) {
    float w = 1.0f;
    if (i < before) {
        const float rise = smootherstep(static_cast<float>(i + 1) / static_cast<float>(before + 1));
        w = rise < w ? rise : w;
    }
    if (i >= extent - after) {
        const float fall = smootherstep(static_cast<float>(extent - i) / static_cast<float>(after + 1));
        w = fall < w ? fall : w;
    }
    return w;
}

/// The weight factor of pixel i on one axis of a padded tile.
QUADFLOW_HOST_DEVICE inline float axis_weight(const weight_params& params, std::int64_t i, std::int64_t extent,
                                              std::int64_t before, std::int64_t after) {
    switch (params.kind) {
        case weight_kind::gaussian:
            return gaussian_axis_weight(i, extent, params.variance);
        case weight_kind::smootherstep:
            return smootherstep_axis_weight(i, extent, before, after);
        case weight_kind::uniform:
            break;
    }
    return 1.0f;
}

/// Weight of the pixel at (local_y, local_x) of a tile's padded rectangle: the product of the two axis
/// factors, each over its own axis (padded height for rows, padded width for columns).
QUADFLOW_HOST_DEVICE inline float tile_weight(const weight_params& params, const tile::layout_tile& t,
                                              std::int64_t local_y, std::int64_t local_x) {
    const float wy =
        axis_weight(params, local_y, t.padded.h, t.core.y - t.padded.y, t.padded.bottom() - t.core.bottom());
    const float wx = axis_weight(params, local_x, t.padded.w, t.core.x - t.padded.x, t.padded.right() - t.core.right());
    return wy * wx;
}

}  // namespace quadflow::blend
