// quadflow schedule: FLUX dynamic time shift, SD3 static shift and the FLUX mu(resolution) line.
#pragma once

#include <cmath>

#include "quadflow/core/config.hpp"
#include "quadflow/core/error.hpp"

namespace quadflow::schedule {

/// FLUX time shift of a linear time t in [0, 1] (BFL flux/sampling.py `time_shift` with sigma = 1,
/// ComfyUI comfy/model_sampling.py `flux_time_shift`): e^mu / (e^mu + (1/t - 1)); 0 at t = 0.
/// Pure math shared with CUDA: the caller keeps t in [0, 1] and mu finite.
QUADFLOW_HOST_DEVICE inline double time_shift(double mu, double t) {
    if (t <= 0.0) return 0.0;
    const double e = std::exp(mu);
    return e / (e + (1.0 / t - 1.0));
}

/// SD3 static shift (diffusers FlowMatchEulerDiscreteScheduler): s*t / (1 + (s-1)*t).
/// Equal to time_shift(log(s), t).
inline double static_shift(double shift, double t) {
    require(std::isfinite(shift) && shift > 0.0, "shift", shift, "must be finite and > 0");
    require(t >= 0.0 && t <= 1.0, "t", t, "must be in [0, 1]");
    return shift * t / (1.0 + (shift - 1.0) * t);
}

/// Number of FLUX image tokens: one per 16x16 pixel patch (8x VAE, then 2x2 packing).
inline long long flux_image_tokens(int width, int height) {
    require(width > 0 && width % 16 == 0, "width", width, "must be a positive multiple of 16");
    require(height > 0 && height % 16 == 0, "height", height, "must be a positive multiple of 16");
    return static_cast<long long>(width / 16) * static_cast<long long>(height / 16);
}

/// FLUX resolution-dependent mu (BFL flux/sampling.py `get_lin_function(x1=256, y1=0.5, x2=4096,
/// y2=1.15)`, diffusers pipeline_flux.py `calculate_shift`): the line through (256, 0.5) and
/// (4096, 1.15) at L = (H/16)*(W/16) tokens, not clamped. 1.15 at 1024^2, 0.5 at 256^2.
inline double flux_mu(int width, int height) {
    constexpr double base_tokens = 256.0, max_tokens = 4096.0;
    constexpr double base_shift = 0.5, max_shift = 1.15;
    const double slope = (max_shift - base_shift) / (max_tokens - base_tokens);
    const double intercept = base_shift - slope * base_tokens;
    return static_cast<double>(flux_image_tokens(width, height)) * slope + intercept;
}

}  // namespace quadflow::schedule
