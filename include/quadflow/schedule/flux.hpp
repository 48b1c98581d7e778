// quadflow schedule: BFL FLUX schedules on the linear grid: dynamic shift (dev), static shift, linear (schnell).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/schedule/shift.hpp"

namespace quadflow::schedule {

/// Most steps a schedule may have: far beyond any sampler run, and it keeps every schedule (and the
/// stretched one of comfy_denoise) to a few MB.
inline constexpr int max_steps = 1 << 20;

namespace detail {

inline void require_steps(int steps) {
    require(steps > 0, "steps", steps, "must be > 0");
    require(steps <= max_steps, "steps", steps, "must be <= max_steps = " + std::to_string(max_steps));
}

/// Applies `warp` to the grid t_i = (N - i)/N, i = 0..N (BFL `torch.linspace(1, 0, N + 1)`);
/// every warp used here maps 1 to 1 and 0 to 0, so the schedule ends in exactly 0.
template <class Warp>
std::vector<double> warp_linear_grid(int steps, Warp warp) {
    require_steps(steps);
    std::vector<double> sigmas(static_cast<std::size_t>(steps) + 1);
    for (int i = 0; i <= steps; ++i) sigmas[static_cast<std::size_t>(i)] = warp(static_cast<double>(steps - i) / steps);
    return sigmas;
}

}  // namespace detail

/// FLUX-schnell: the plain grid 1, (N-1)/N, ..., 0 (BFL get_schedule with shift=False).
inline std::vector<double> linear(int steps) {
    return detail::warp_linear_grid(steps, [](double t) { return t; });
}

/// FLUX dynamic shift with an explicit mu: sigma_i = time_shift(mu, 1 - i/N) (BFL flux/sampling.py
/// `get_schedule`; diffusers FluxPipeline passes linspace(1, 1/N, N) through the same shift).
inline std::vector<double> flux_mu_schedule(int steps, double mu) {
    require(std::isfinite(mu), "mu", mu, "must be finite");
    return detail::warp_linear_grid(steps, [mu](double t) { return time_shift(mu, t); });
}

/// FLUX-dev schedule for an image of width x height pixels: mu = flux_mu(width, height).
inline std::vector<double> flux(int steps, int width, int height) {
    detail::require_steps(steps);
    return flux_mu_schedule(steps, flux_mu(width, height));
}

/// SD3 static shift on the linear grid: sigma_i = s*t / (1 + (s-1)*t), t = 1 - i/N.
inline std::vector<double> shifted(int steps, double shift) {
    require(std::isfinite(shift) && shift > 0.0, "shift", shift, "must be finite and > 0");
    return detail::warp_linear_grid(steps, [shift](double t) { return static_shift(shift, t); });
}

}  // namespace quadflow::schedule
