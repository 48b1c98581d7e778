// quadflow velocity policies: what flow velocity a tile gets from its strength d, the model and the original.
//
// Sigma convention throughout: x = (1 - sigma) x0 + sigma n, v = dx/dsigma = n - x0. For a tile with
// strength d, model velocity v_m, current state x, clean original x0 and noise level sigma:
//
//   policy               velocity                                                       model call
//   scale                d * v_m                        (seed document's reading of 98e3cbf)   d > 0
//   floor                max(0.70, d) * v_m             (seed document's option A)             always
//   preservation_blend   d < 0.7: (1 - d) v_pres + d v_m, else d v_m  (document's option B)  d > 0
//   skip                 skipped tiles: v_pres; others: v_m  (document's option C)           not skipped
//   strength             step < start(d): v_pres exact; then v_m  (img2img at d)              from start(d)
//   mask                 per pixel m: m >= tau(sigma): v_m, else v_pres exact (Diff. Diffusion)
//   progress_ramp        b = d + (1 - d) step/N: (1 - b) v_pres + b v_m  (document's reading of the ramp)
//
// scale, floor, preservation_blend, skip and progress_ramp are the seed *document*'s reading of comfyui-quadtree-tile:
// its formulas applied to velocities. The seed's code applies them to ComfyUI's denoised estimate instead; that is
// seed_code.hpp (seed_scale, seed_floor, seed_ramp), and the two differ (docs/policies.md has the numbers).
//
// Preservation velocity: exact v_pres = (x - x0) / sigma lands on x0 at sigma = 0 in any number of
// steps (it is the velocity of the line through x and x0); the document's naive v_pres = x - x0 (its
// "u = x0 - X", no division by sigma) removes only a fraction (sigma - sigma') of the error per step
// and never converges (docs/policies.md).
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>

#include "quadflow/core/config.hpp"
#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/policy/concepts.hpp"

namespace quadflow::policy {

/// Which preservation velocity a policy uses.
enum class preservation { naive, exact };

constexpr auto enum_names(preservation) {
    return make_enum_table<preservation>("preservation", "preservation",
                                         {{preservation::naive, "naive"}, {preservation::exact, "exact"}});
}
constexpr std::string_view to_string(preservation p) { return quadflow::to_string(p); }
inline preservation parse_preservation(std::string_view name) { return quadflow::parse<preservation>(name); }

/// Coefficient of (x - x0) in a preservation velocity: 1/sigma (exact) or 1 (naive).
QUADFLOW_HOST_DEVICE inline float preservation_gain(preservation kind, float sigma) {
    return kind == preservation::exact ? 1.0f / sigma : 1.0f;
}

/// v = d * v_m: the seed document's reading of comfyui-quadtree-tile's commit 98e3cbf (velocity slot, no ramp). d = 0
/// freezes the tile in its starting noise; the commit as it runs is seed_scale (seed_code.hpp).
struct scale {
    static constexpr std::string_view name = "scale";
    static constexpr bool needs_original = false;
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context& t) const { return t.strength > 0.0f; }
    QUADFLOW_HOST_DEVICE linear_velocity linear(const tile_context& t) const { return {t.strength, 0.0f}; }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const { return linear(t)(e); }
};

/// v = max(value, d) * v_m: the seed document's option A ("gentle denoising", never preservation) with value 0.70.
/// No commit has this formula; the 0.70 floor as the code ran it is seed_floor (seed_code.hpp).
struct floor {
    static constexpr std::string_view name = "floor";
    static constexpr bool needs_original = false;
    float value = 0.70f;
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context&) const { return true; }
    QUADFLOW_HOST_DEVICE linear_velocity linear(const tile_context& t) const {
        return {t.strength > value ? t.strength : value, 0.0f};
    }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const { return linear(t)(e); }
};
/// The former name, from when the value was fixed.
using floor_070 = floor;

/// The seed document's option B: below `threshold` blend a preservation velocity with the model's. No commit has
/// it; the blend the code shipped (66358ba) is seed_ramp (seed_code.hpp).
struct preservation_blend {
    static constexpr std::string_view name = "preservation_blend";
    static constexpr bool needs_original = true;
    preservation kind = preservation::naive;
    float threshold = 0.70f;
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context& t) const { return t.strength > 0.0f; }
    QUADFLOW_HOST_DEVICE linear_velocity linear(const tile_context& t) const {
        const float d = t.strength;
        if (d < threshold) return {d, (1.0f - d) * preservation_gain(kind, t.sigma)};
        return {d, 0.0f};
    }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const { return linear(t)(e); }
};

/// The seed document's option C: tiles matching the predicate never reach the model and get v_pres; the others
/// get the model's velocity. Predicates: min image-pixel side below `skip_below` (comfyui-quadtree-tile's
/// `skip_diffusion_below`, 0 = off) or d <= `strength_at_most` (negative = off). The code's skip path writes x0 - x
/// into the denoised slot instead (seed_code.hpp's skip_below), which pulls the tile toward x0 / 2.
struct skip {
    static constexpr std::string_view name = "skip";
    static constexpr bool needs_original = true;
    preservation kind = preservation::exact;
    std::int64_t skip_below = 0;
    float strength_at_most = -1.0f;
    QUADFLOW_HOST_DEVICE bool skipped(const tile_context& t) const {
        return (skip_below > 0 && t.min_pixel_side < skip_below) || t.strength <= strength_at_most;
    }
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context& t) const { return !skipped(t); }
    QUADFLOW_HOST_DEVICE linear_velocity linear(const tile_context& t) const {
        return skipped(t) ? linear_velocity{0.0f, preservation_gain(kind, t.sigma)} : linear_velocity{1.0f, 0.0f};
    }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const { return linear(t)(e); }
};

/// Real per-tile img2img strength: the tile stays on the noised-original path (exact v_pres) until the
/// step at which an img2img run of strength d starts on this schedule, then takes the model's velocity.
struct strength {
    static constexpr std::string_view name = "strength";
    static constexpr bool needs_original = true;
    static constexpr bool needs_schedule = true;
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context& t) const { return t.step >= t.start_step; }
    QUADFLOW_HOST_DEVICE linear_velocity linear(const tile_context& t) const {
        return needs_model(t) ? linear_velocity{1.0f, 0.0f}
                              : linear_velocity{0.0f, preservation_gain(preservation::exact, t.sigma)};
    }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const { return linear(t)(e); }
};

/// Differential Diffusion: a pixel with strength m is released once tau <= m and takes the model's
/// velocity from then on; before, it follows the noised-original path.
struct mask {
    static constexpr std::string_view name = "mask";
    static constexpr bool needs_original = true;
    static constexpr bool needs_strength_map = true;
    static constexpr bool needs_schedule = true;
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context& t) const { return t.max_pixel_strength >= t.tau; }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const {
        const linear_velocity released{1.0f, 0.0f}, kept{0.0f, preservation_gain(preservation::exact, t.sigma)};
        return e.strength >= t.tau ? released(e) : kept(e);
    }
};

/// The seed document's reading of comfyui-quadtree-tile's progress ramp, on velocities: b = d + (1 - d) * step / N
/// weights the model, 1 - b the preservation velocity. The ramp as it runs is seed_ramp (seed_code.hpp).
struct progress_ramp {
    static constexpr std::string_view name = "progress_ramp";
    static constexpr bool needs_original = true;
    static constexpr bool needs_schedule = true;
    preservation kind = preservation::exact;
    QUADFLOW_HOST_DEVICE float weight(const tile_context& t) const {
        return t.strength + (1.0f - t.strength) * static_cast<float>(t.step) / static_cast<float>(t.total_steps);
    }
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context& t) const { return weight(t) > 0.0f; }
    QUADFLOW_HOST_DEVICE linear_velocity linear(const tile_context& t) const {
        const float b = weight(t);
        return {b, (1.0f - b) * preservation_gain(kind, t.sigma)};
    }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const { return linear(t)(e); }
};

static_assert(velocity_policy<scale>);
static_assert(velocity_policy<floor>);
static_assert(velocity_policy<preservation_blend>);
static_assert(velocity_policy<skip>);
static_assert(velocity_policy<strength>);
static_assert(velocity_policy<mask>);
static_assert(velocity_policy<progress_ramp>);
static_assert(linear_policy<strength> && !linear_policy<mask>);

}  // namespace quadflow::policy
