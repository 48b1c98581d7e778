// quadflow schedule: img2img strength rules of ComfyUI, diffusers, BFL and stable-diffusion.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/schedule/comfy.hpp"

namespace quadflow::schedule {

/// Which engine's img2img rule turns a strength into a start point on an N-step schedule.
enum class strength_rule { comfy, diffusers, bfl, sdcpp };

inline constexpr strength_rule all_strength_rules[] = {strength_rule::comfy, strength_rule::diffusers,
                                                       strength_rule::bfl, strength_rule::sdcpp};

constexpr auto enum_names(strength_rule) {
    return make_enum_table<strength_rule>("strength_rule", "strength_rule",
                                          {{strength_rule::comfy, "comfy"},
                                           {strength_rule::diffusers, "diffusers"},
                                           {strength_rule::bfl, "bfl"},
                                           {strength_rule::sdcpp, "sdcpp"}});
}

inline std::string_view to_string(strength_rule rule) { return quadflow::to_string(rule); }

/// Parses comfy|diffusers|bfl|sdcpp.
inline strength_rule parse_strength_rule(std::string_view name) { return quadflow::parse<strength_rule>(name); }

namespace detail {

/// ComfyUI: keep the last round(s*N) steps (round half to even, as Python's round). This is exactly
/// ComfyUI's KSampler(steps = k, denoise = s) with k = round(s*N) whenever int(k/s) == N, i.e. when
/// the N-step schedule is the one ComfyUI builds for that denoise (comfy/samplers.py set_steps).
inline std::size_t comfy_start(std::size_t steps, double strength) {
    const double n = static_cast<double>(steps);
    return steps - static_cast<std::size_t>(round_half_to_even(strength * n));
}

/// diffusers FluxImg2ImgPipeline.get_timesteps: t_start = int(max(N - min(N*s, N), 0)), in double.
inline std::size_t diffusers_start(std::size_t steps, double strength) {
    const double n = static_cast<double>(steps);
    return static_cast<std::size_t>(std::max(n - std::min(n * strength, n), 0.0));
}

/// BFL flux/cli.py: t_idx = int((1 - s) * N) in double (s = 0.8, N = 20 gives 3, not 4).
inline std::size_t bfl_start(std::size_t steps, double strength) {
    return static_cast<std::size_t>((1.0 - strength) * static_cast<double>(steps));
}

/// stable-diffusion.cpp (stable-diffusion.cpp img2img): t_enc = size_t(sample_steps * strength) with
/// an int times a float, i.e. in float32; minus 1 if it equals N; the schedule starts at N - t_enc - 1.
inline std::size_t sdcpp_start(std::size_t steps, double strength) {
    auto t_enc = static_cast<std::size_t>(static_cast<float>(steps) * static_cast<float>(strength));
    if (t_enc == steps) --t_enc;
    return steps - t_enc - 1;
}

}  // namespace detail

/// Index into a full N-step schedule (N + 1 sigmas) where an img2img run of `strength` starts.
/// strength 1 starts at 0 under every rule (sdcpp: t_enc = N - 1). strength 0 starts at N under
/// every rule: only sigma 0 is left and the image is unchanged (stable-diffusion.cpp's own formula
/// would still take one step from sigma[N - 1]).
inline std::size_t img2img_start_index(strength_rule rule, std::size_t steps, double strength) {
    require(steps > 0, "steps", steps, "must be > 0");
    require(strength >= 0.0 && strength <= 1.0, "strength", strength, "must be in [0, 1]");
    if (strength == 0.0) return steps;
    switch (rule) {
        case strength_rule::comfy:
            return detail::comfy_start(steps, strength);
        case strength_rule::diffusers:
            return detail::diffusers_start(steps, strength);
        case strength_rule::bfl:
            return detail::bfl_start(steps, strength);
        case strength_rule::sdcpp:
            return detail::sdcpp_start(steps, strength);
    }
    throw invalid_argument("strength_rule", std::to_string(static_cast<int>(rule)), "is not a strength_rule");
}

/// The suffix of `full_schedule` (N + 1 sigmas) that an img2img run of `strength` samples; its first
/// sigma is the start noise level: x = (1 - sigma0)*x0 + sigma0*noise.
inline std::vector<double> img2img_sigmas(std::span<const double> full_schedule, double strength, strength_rule rule) {
    require(full_schedule.size() >= 2, "full_schedule.size()", full_schedule.size(),
            "a schedule of N >= 1 steps has N + 1 sigmas");
    const std::size_t start = img2img_start_index(rule, full_schedule.size() - 1, strength);
    return std::vector<double>(full_schedule.begin() + static_cast<std::ptrdiff_t>(start), full_schedule.end());
}

}  // namespace quadflow::schedule
