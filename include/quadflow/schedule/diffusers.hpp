// quadflow schedule: diffusers FlowMatchEulerDiscreteScheduler with a static shift, sigma_min shifted twice.
#pragma once

#include <cmath>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/shift.hpp"

namespace quadflow::schedule {

/// diffusers schedulers/scheduling_flow_match_euler_discrete.py, use_dynamic_shifting=False:
/// the constructor shifts the training sigmas t/T (t = 1..T), so sigma_max = shift(1) = 1 and
/// sigma_min = shift(1/T); `set_timesteps(N)` takes linspace(T*sigma_max, T*sigma_min, N) / T and
/// shifts it again, so the last non-zero sigma is shift(shift(1/T)) (0.0089286 for shift 3, N = 28).
/// Then 0 is appended. Computed in double; diffusers runs float32 (differences about 1e-7).
inline std::vector<double> diffusers_flow_match(int steps, double shift, int num_train_timesteps = 1000) {
    detail::require_steps(steps);
    require(std::isfinite(shift) && shift > 0.0, "shift", shift, "must be finite and > 0");
    require(num_train_timesteps >= 2, "num_train_timesteps", num_train_timesteps, "must be >= 2");
    const double train_steps = num_train_timesteps;
    const double sigma_max = static_shift(shift, 1.0);
    const double sigma_min = static_shift(shift, 1.0 / train_steps);

    // numpy.linspace(start, stop, N): start + i * ((stop - start) / (N - 1)), the last one exactly stop.
    const double start = sigma_max * train_steps, stop = sigma_min * train_steps;
    const double step = steps > 1 ? (stop - start) / (steps - 1) : 0.0;
    std::vector<double> sigmas(static_cast<std::size_t>(steps) + 1, 0.0);
    for (int i = 0; i < steps; ++i) {
        const double timestep = (i == steps - 1 && steps > 1) ? stop : start + i * step;
        sigmas[static_cast<std::size_t>(i)] = static_shift(shift, timestep / train_steps);
    }
    return sigmas;
}

}  // namespace quadflow::schedule
