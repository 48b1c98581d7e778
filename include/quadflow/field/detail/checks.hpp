// quadflow field internals: the checks both tiled fields (CPU and CUDA) make on their inputs, on each step's
// handshake and on each evaluation.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/field/options.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/schedule/validate.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field::detail {

/// What both tiled fields check when built: a valid layout, a canvas of its latent size with N, C >= 1, and a
/// positive tile batch size.
inline void check_construction(const tile::layout& layout, const shape4& canvas, const field_options& options) {
    tile::validate(layout);
    require(canvas.n >= 1 && canvas.c >= 1, "canvas", to_string(canvas), "needs N >= 1 and C >= 1");
    if (canvas.h != layout.height || canvas.w != layout.width)
        throw shape_error("canvas " + to_string(canvas) + " does not match the layout's " +
                          std::to_string(layout.width) + "x" + std::to_string(layout.height) + " latent pixels");
    require(options.tile_batch_size >= 1, "tile_batch_size", options.tile_batch_size, "must be >= 1");
}

/// The inputs of a field as host values: `original` and `strength_map` are null views (shape only,
/// values empty) when absent; the values are host copies of the fields' (host or device) memory.
struct field_inputs {
    shape4 canvas;
    const std::vector<double>& sigmas;
    bool has_original = false;
    shape4 original_shape{};
    std::span<const float> original_values;
    bool has_strength_map = false;
    shape4 strength_shape{};
    std::span<const float> strength_values;
};

/// Checks what policy P needs (an original, a strength map, the schedule) and the values given:
/// the original of the canvas's shape and finite, the map (1 or N) x 1 x H x W in [0, 1], the schedule valid.
template <policy::velocity_policy P>
void check_field_inputs(const field_inputs& in) {
    const std::string_view name = P::name;
    if constexpr (P::needs_original) {
        if (!in.has_original)
            throw invalid_argument(
                "original", "none",
                "the " + std::string(name) + " policy needs the clean original latent (img2img); txt2img has none");
    }
    if (in.has_original) {
        require_same_shape(in.original_shape, in.canvas, "original", "the canvas");
        for (std::size_t i = 0; i < in.original_values.size(); ++i)
            if (!std::isfinite(in.original_values[i]))
                throw invalid_argument("original[" + std::to_string(i) + "]",
                                       quadflow::detail::to_text(in.original_values[i]),
                                       "the original latent must be finite");
    }
    if (policy::needs_strength_map_v<P> && !in.has_strength_map)
        throw invalid_argument("strength_map", "none",
                               "the " + std::string(name) + " policy needs a per-pixel strength map");
    if (in.has_strength_map) {
        const shape4 s = in.strength_shape;
        if (!((s.n == 1 || s.n == in.canvas.n) && s.c == 1 && s.h == in.canvas.h && s.w == in.canvas.w))
            throw shape_error("strength_map has shape " + to_string(s) + " but the canvas " + to_string(in.canvas) +
                              " needs [1 or N, 1, H, W]");
        for (std::size_t i = 0; i < in.strength_values.size(); ++i) {
            const float m = in.strength_values[i];
            if (!(std::isfinite(m) && m >= 0.0f && m <= 1.0f))
                throw invalid_argument("strength_map[" + std::to_string(i) + "]", quadflow::detail::to_text(m),
                                       "must be in [0, 1]");
        }
    }
    if (policy::needs_schedule_v<P>)
        require(in.sigmas.size() >= 2, "field_options.sigmas.size()", in.sigmas.size(),
                "the " + std::string(name) + " policy needs the schedule being sampled");
    if (!in.sigmas.empty()) schedule::validate_schedule(in.sigmas);
}

/// The checks both tiled fields make on each evaluation, after their own host or device view checks: shapes,
/// sigma in (0, 1], and a step index set by on_step. `field` and `sampler` name the field and the loop that
/// calls on_step, for the message.
inline void check_evaluation(const shape4& x, const shape4& velocity, const shape4& canvas, double sigma, int step,
                             std::string_view field, std::string_view sampler) {
    require_same_shape(x, canvas, "x", "the field's canvas");
    require_same_shape(velocity, canvas, "velocity", "the field's canvas");
    require(std::isfinite(sigma) && sigma > 0.0 && sigma <= 1.0, "sigma", sigma, "must be in (0, 1]");
    if (step < 0)
        throw error(std::string(field) + ": no step index; call on_step(step, sigma, sigma_next) before evaluating (" +
                    std::string(sampler) + " does)");
}

/// Largest difference between a sigma an engine hands the field and the field's schedule that still counts
/// as the same grid point: engines keep sigmas as float and compute them in float arithmetic, and adjacent
/// points of any practical schedule lie more than 1e-4 apart.
inline constexpr double schedule_tolerance = 1e-5;

inline std::string schedule_source(const std::vector<double>& sigmas) {
    return "the field's schedule (field_options.sigmas, " + std::to_string(sigmas.size() - 1) + " steps)";
}

/// The step handshake: on_step(step, sigma, sigma_next) must name a step of the field's schedule with that
/// step's own sigma and sigma_next. With no schedule any step >= 0 is accepted. Throws invalid_argument
/// naming the step, the sigma given and the schedule's.
inline void check_step(const std::vector<double>& sigmas, int step, double sigma, double sigma_next) {
    require(step >= 0, "step", step,
            "must be >= 0 (steps are numbered from 0; see docs/engines.md for engines that count from 1)");
    if (sigmas.size() < 2) return;
    const auto steps = static_cast<int>(sigmas.size()) - 1;
    if (step >= steps)  // no require(): its message would be built on every call
        throw invalid_argument("step", std::to_string(step),
                               "is past the last step of " + schedule_source(sigmas) + ", whose steps are 0.." +
                                   std::to_string(steps - 1) + "; give the field the schedule being sampled");
    const auto i = static_cast<std::size_t>(step);
    const auto mismatch = [&](std::string_view what, double given, double expected) {
        return invalid_argument(std::string(what) + " at step " + std::to_string(step),
                                quadflow::detail::to_text(given),
                                schedule_source(sigmas) + " has " + quadflow::detail::to_text(expected) +
                                    " there; sample the schedule the field was given (after any img2img truncation), "
                                    "or give the field the schedule being sampled");
    };
    if (!(std::abs(sigma - sigmas[i]) <= schedule_tolerance)) throw mismatch("sigma", sigma, sigmas[i]);
    if (!(std::abs(sigma_next - sigmas[i + 1]) <= schedule_tolerance))
        throw mismatch("sigma_next", sigma_next, sigmas[i + 1]);
}

/// Every evaluation of step `step` must be at a sigma of that step: its grid point, the next one (a corrector),
/// or between them (midpoint samplers). Throws invalid_argument naming the sigma, the step and its interval.
inline void check_sigma_in_step(const std::vector<double>& sigmas, int step, double sigma) {
    if (sigmas.size() < 2 || step < 0 || step + 1 >= static_cast<int>(sigmas.size())) return;
    const double from = sigmas[static_cast<std::size_t>(step)], to = sigmas[static_cast<std::size_t>(step) + 1];
    if (sigma <= from + schedule_tolerance && sigma >= to - schedule_tolerance) return;
    throw invalid_argument("sigma at step " + std::to_string(step), quadflow::detail::to_text(sigma),
                           "step " + std::to_string(step) + " of " + schedule_source(sigmas) + " runs from sigma " +
                               quadflow::detail::to_text(from) + " to " + quadflow::detail::to_text(to) +
                               "; an evaluation must lie on that interval (a different schedule, or steps numbered "
                               "otherwise than from 0?)");
}

/// Checks the auxiliary canvases for a canvas of shape `canvas` in memory `space`: one of 1 or N images, rows and
/// columns `scale` per latent pixel, contiguous, in the field's memory.
inline void check_auxiliary(const std::vector<auxiliary_canvas>& auxiliary, const shape4& canvas, memory_space space) {
    for (std::size_t k = 0; k < auxiliary.size(); ++k) {
        const auxiliary_canvas& a = auxiliary[k];
        const std::string name = "auxiliary[" + std::to_string(k) + "]";
        require(a.scale >= 1 && a.scale <= 64, name + ".scale", a.scale, "must be in [1, 64]");
        require(a.data.data() != nullptr, name + ".data", "null", "must be an image");
        require(a.data.space() == space, name + ".data memory",
                a.data.space() == memory_space::host ? "host" : "device",
                std::string("must be the field's: ") + (space == memory_space::host ? "host" : "device"));
        const shape4 s = a.data.shape();
        const shape4 expected{s.n == 1 ? 1 : canvas.n, s.c, canvas.h * a.scale, canvas.w * a.scale};
        if (s.n < 1 || s.c < 1 || s.c > 65535 || s != expected)
            throw shape_error(name + ".data has shape " + to_string(s) + " but needs [1 or " +
                              std::to_string(canvas.n) + ", C, " + std::to_string(expected.h) + ", " +
                              std::to_string(expected.w) + "] (the canvas times scale " + std::to_string(a.scale) +
                              ", 1 <= C <= 65535)");
        require(a.data.is_contiguous(), name + ".data", "strided", "must be contiguous");
    }
}

}  // namespace quadflow::field::detail
