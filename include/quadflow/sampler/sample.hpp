// quadflow sampling loop: runs a sampler over a schedule with an observer that can cancel.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <span>

#include "quadflow/core/error.hpp"
#include "quadflow/core/finite.hpp"
#include "quadflow/sampler/concepts.hpp"
#include "quadflow/schedule/validate.hpp"

namespace quadflow::sampler {

/// What an observer sees after each step.
struct step_info {
    int step;           ///< index of the step just made, 0-based
    int total;          ///< number of steps in the schedule
    double sigma;       ///< sigma the step started from
    double sigma_next;  ///< sigma the step arrived at
    const_view x;       ///< the canvas after the step
};

/// observer: `bool o(const step_info&)`; returning false stops the loop after this step.
template <class O>
concept observer = requires(O& o, const step_info& info) {
    { o(info) } -> std::convertible_to<bool>;
};

struct no_observer {
    bool operator()(const step_info&) const { return true; }
};
static_assert(observer<no_observer>);

struct sample_result {
    int steps_done = 0;
    bool cancelled = false;
};

/// Optional part of velocity_field: `f.on_step(step, sigma, sigma_next)` is called by `sample` before
/// each step, so a field can tell its model the step index (all evaluations until the next call,
/// Heun's corrector included, belong to that step).
template <class F>
concept step_aware_field = requires(F& f, int step, double sigma) {
    f.on_step(step, sigma, sigma);
};

/// The minimal step_aware_field: a constant velocity that remembers the step it was last told.
struct step_recording_velocity : constant_velocity {
    int step = -1;
    void on_step(int s, double /*sigma*/, double /*sigma_next*/) { step = s; }
};
static_assert(velocity_field<step_recording_velocity> && step_aware_field<step_recording_velocity>);

/// Runs `s` over `sigmas` (sigma convention, high to low) starting from `x` at sigmas[0].
/// `x` is updated in place; the observer is called after every step and may cancel.
template <class S, velocity_field F, observer O = no_observer>
requires sampler<S, F> sample_result sample(S& s, F& field, mutable_view x, std::span<const double> sigmas,
                                            O&& observe = {}) {
    schedule::validate_schedule(sigmas);
    if (x.space() == memory_space::host && x.is_contiguous())
        require_finite(x, "x", "the starting canvas must be finite (check the noise and the original)");
    s.reset(x.shape());
    const int total = static_cast<int>(sigmas.size()) - 1;
    sample_result result;
    for (int i = 0; i < total; ++i) {
        if constexpr (step_aware_field<F>) field.on_step(i, sigmas[i], sigmas[i + 1]);
        s.step(field, x, sigmas[i], sigmas[i + 1]);
        result.steps_done = i + 1;
        if (!observe(step_info{i, total, sigmas[i], sigmas[i + 1], const_view(x)})) {
            result.cancelled = i + 1 < total;
            break;
        }
    }
    return result;
}

}  // namespace quadflow::sampler
