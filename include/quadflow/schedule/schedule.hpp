// quadflow schedule: umbrella header, the schedule_spec value type, build() and validate_schedule().
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/schedule/comfy.hpp"
#include "quadflow/schedule/diffusers.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/shift.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/schedule/validate.hpp"

namespace quadflow::schedule {

/// The schedule families; CLI names flux|shift|diffusers-shift|comfy-simple|comfy-beta|linear.
enum class scheduler { flux, shift, diffusers_shift, comfy_simple, comfy_beta, linear };

constexpr auto enum_names(scheduler) {
    return make_enum_table<scheduler>("scheduler", "scheduler",
                                      {{scheduler::flux, "flux"},
                                       {scheduler::shift, "shift"},
                                       {scheduler::diffusers_shift, "diffusers-shift"},
                                       {scheduler::comfy_simple, "comfy-simple"},
                                       {scheduler::comfy_beta, "comfy-beta"},
                                       {scheduler::linear, "linear"}});
}

inline std::string_view to_string(scheduler kind) { return quadflow::to_string(kind); }

/// Parses flux|shift|diffusers-shift|comfy-simple|comfy-beta|linear.
inline scheduler parse_scheduler(std::string_view name) { return quadflow::parse<scheduler>(name); }

/// What to build. Fields each kind reads:
///   flux            steps, mu: flux_mu_schedule(steps, mu); set mu = flux_mu(width, height) for the
///                   FLUX-dev dynamic shift of an image (the defaults agree: 1.15 at 1024x1024)
///   shift           steps, shift: shifted(steps, shift)
///   diffusers_shift steps, shift: diffusers_flow_match(steps, shift)
///   comfy_simple    steps, mu: comfy_simple(steps, mu)
///   comfy_beta      steps, mu: comfy_beta(steps, mu)
///   linear          steps: linear(steps)
/// schedule_for_image() fills mu from an image size.
struct schedule_spec {
    scheduler kind = scheduler::flux;
    int steps = 20;
    double mu = 1.15;
    double shift = 3.0;
};

/// A FLUX-dev spec for an image: kind flux, mu = flux_mu(width, height).
inline schedule_spec schedule_for_image(int steps, int width, int height) {
    schedule_spec spec;
    spec.steps = steps;
    spec.mu = flux_mu(width, height);
    return spec;
}

/// The full schedule (N + 1 sigmas, ending in 0) that `spec` names.
inline std::vector<double> build(const schedule_spec& spec) {
    switch (spec.kind) {
        case scheduler::flux:
            return flux_mu_schedule(spec.steps, spec.mu);
        case scheduler::shift:
            return shifted(spec.steps, spec.shift);
        case scheduler::diffusers_shift:
            return diffusers_flow_match(spec.steps, spec.shift);
        case scheduler::comfy_simple:
            return comfy_simple(spec.steps, spec.mu);
        case scheduler::comfy_beta:
            return comfy_beta(spec.steps, spec.mu);
        case scheduler::linear:
            return linear(spec.steps);
    }
    throw invalid_argument("scheduler", std::to_string(static_cast<int>(spec.kind)), "is not a scheduler");
}

/// `spec` under ComfyUI KSampler denoise (comfy_denoise): the last steps + 1 sigmas of the schedule
/// of int(steps / denoise) steps; denoise in (0, 1], > 0.9999 is the plain schedule.
inline std::vector<double> build(const schedule_spec& spec, double denoise) {
    return comfy_denoise(
        [&spec](int steps) {
            schedule_spec stretched = spec;
            stretched.steps = steps;
            return build(stretched);
        },
        spec.steps, denoise);
}

}  // namespace quadflow::schedule
