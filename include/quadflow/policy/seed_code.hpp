// quadflow seed-code policies: comfyui-quadtree-tile's variable denoise as its code runs in ComfyUI (denoised slot).
//
// The seed system hooks ComfyUI's model wrapper, whose value is the *denoised* estimate x0_hat (BaseModel.apply_model
// ends in calculate_denoised: x0_hat = x - sigma * v for FLUX), and its formulas act on that value; k-diffusion's
// Euler then steps with (x - D) / sigma. These policies reproduce that code (rickyars/comfyui-quadtree-tile,
// tiled_diffusion.py, MixtureOfDiffusers.__call__). The seed *document*'s reading of the same options, formulas
// applied to velocities, is policies.hpp's scale / floor / preservation_blend / skip / progress_ramp.
//
// For a tile of strength d (the leaf's `denoise`), with i = index of the evaluation's sigma in the sampled
// schedule (the nearest one, as the seed's find_nearest), N = len(sigmas) - 1, p = i / N, x0 the original:
//
//   policy       seed commit                      returned denoised D, only where d < 1 (else D = x0_hat)
//   seed_floor   925f43b .. bba9b28               a = 0.70 + 0.25 d, s = clamp(a + (1 - a) min(1, p^(1/(1+d))),
//                                                 0.70, 1); D = s x0_hat
//   seed_scale   98e3cbf                          s = clamp(d + (1 - d) min(1, p^(1/(1+d))), 0, 1); D = s x0_hat
//   seed_ramp    66358ba, HEAD f5c0402            img2img: b = clamp(d + (1 - d) p, 0, 1),
//                                                 D = b x0_hat + (1 - b) (x0 - x);
//                                                 txt2img: a = 0.70 + 0.30 d, s as seed_floor's with that a
//   all three, skip_below > 0 (be0ecca, formula from ee6ac60): a tile whose smaller side is below skip_below image
//   pixels never reaches the model; D = x0 - x (its "velocity toward the original" written into the denoised
//   slot), or D = 0 in txt2img (its buffer stays zero).
//
// What a d = 0 tile becomes (Euler; the last step lands on D): seed_scale ends at (N - 1)/N x0_hat, seed_floor at
// (0.70 + 0.30 (N - 1)/N) x0_hat, seed_ramp at (N - 1)/N x0_hat + (x0 - x)/N; a skipped tile is pulled toward x0/2
// (docs/policies.md has the measured numbers). None of them keeps the tile.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

#include "quadflow/core/config.hpp"
#include "quadflow/policy/policies.hpp"

namespace quadflow::policy {

/// What a denoised-slot policy sees of one element.
struct denoised_element {
    float model_denoised;  ///< x0_hat = x - sigma * v_m, the model's prediction as ComfyUI's wrapper returns it
    float x;               ///< current state
    float original;        ///< clean original x0 (0 when there is none)
};

/// Flow velocity (sigma convention) of a denoised value D at state x: (x - D) / sigma, k-diffusion's to_d.
QUADFLOW_HOST_DEVICE inline float velocity_of_denoised(float denoised, float x, float sigma) {
    return (x - denoised) / sigma;
}

namespace detail {

QUADFLOW_HOST_DEVICE inline float clamp_to(float v, float low, float high) {
    return v < low ? low : (v > high ? high : v);
}

/// The seed's schedule progress p = i / N (tile_context::sigma_index over total_steps).
QUADFLOW_HOST_DEVICE inline float seed_progress(const tile_context& t) {
    return static_cast<float>(t.sigma_index) / static_cast<float>(t.total_steps > 1 ? t.total_steps : 1);
}

/// The seed's ramped scale: start + (1 - start) * min(1, p^(1/(1+d))), clamped to [low, 1].
QUADFLOW_HOST_DEVICE inline float seed_ramped_scale(float start, float d, float p, float low) {
    const float curved = fminf(1.0f, powf(p, 1.0f / (1.0f + d)));
    return clamp_to(start + (1.0f - start) * curved, low, 1.0f);
}

/// Whether the seed's skip_diffusion_below sends this tile to the model (min pixel side < skip_below skips it).
QUADFLOW_HOST_DEVICE inline bool seed_skips(std::int64_t skip_below, const tile_context& t) {
    return skip_below > 0 && t.min_pixel_side < skip_below;
}

/// The seed's skip path: the original minus the state written where the denoised estimate goes; zero in txt2img.
QUADFLOW_HOST_DEVICE inline float seed_skipped_denoised(const tile_context& t, const denoised_element& e) {
    return t.has_original ? e.original - e.x : 0.0f;
}

/// A denoised-slot policy's flow velocity: the model's velocity converted to x0_hat, the policy's D, back to velocity.
template <class P>
QUADFLOW_HOST_DEVICE float velocity_in_denoised_slot(const P& p, const tile_context& t, const element& e) {
    const denoised_element d{e.x - t.sigma * e.model_velocity, e.x, e.original};
    return velocity_of_denoised(p.denoised(t, d), e.x, t.sigma);
}

}  // namespace detail

// denoised_slot_policy: a velocity_policy whose rule is written on ComfyUI's denoised estimate.
//
// Requirements, besides velocity_policy's, for `const P& p`, `const tile_context& t`, `const denoised_element& e`:
// - `P::acts_on == prediction_slot::denoised`;
// - `p.denoised(t, e)` returns the denoised value the rule hands the sampler; host-device, pure;
// - `p.velocity(t, e)` is `detail::velocity_in_denoised_slot(p, t, e)`: the field converts whatever the model
//   predicts to flow velocity, the policy converts it to x0_hat and back, so the rule sees the denoised estimate
//   whatever kind the model returns.
// Minimal conforming type: `seed_scale`.
template <class P>
concept denoised_slot_policy = velocity_policy<P> && acts_on_v<P>
== prediction_slot::denoised&& requires(const P& p, const tile_context& t, const denoised_element& e) {
    { p.denoised(t, e) } -> std::same_as<float>;
};

namespace detail {
/// What the three seed-code policies share: the denoised slot, the node's skip path and its "only d < 1" rule.
/// `Derived::touched(t, e)` is the commit's formula for a sent tile with d < 1.
template <class Derived>
struct seed_code_policy {
    static constexpr bool needs_original = false;
    static constexpr bool needs_schedule = true;
    static constexpr prediction_slot acts_on = prediction_slot::denoised;
    std::int64_t skip_below = 0;  ///< the node's skip_diffusion_below, image pixels; 0 = off
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context& t) const { return !seed_skips(skip_below, t); }
    QUADFLOW_HOST_DEVICE float denoised(const tile_context& t, const denoised_element& e) const {
        if (seed_skips(skip_below, t)) return seed_skipped_denoised(t, e);
        if (!(t.strength < 1.0f)) return e.model_denoised;
        return static_cast<const Derived&>(*this).touched(t, e);
    }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context& t, const element& e) const {
        return velocity_in_denoised_slot(*this, t, e);
    }
};
}  // namespace detail

/// comfyui-quadtree-tile's commit 98e3cbf as it runs: D = s * x0_hat, s ramping from d toward 1 (see the table above).
struct seed_scale : detail::seed_code_policy<seed_scale> {
    static constexpr std::string_view name = "seed_scale";
    QUADFLOW_HOST_DEVICE float touched(const tile_context& t, const denoised_element& e) const {
        return detail::seed_ramped_scale(t.strength, t.strength, detail::seed_progress(t), 0.0f) * e.model_denoised;
    }
};

/// comfyui-quadtree-tile before 98e3cbf (commits 925f43b to bba9b28) as it runs: D = s * x0_hat with s ramping from
/// 0.70 + 0.25 d toward 1 and never below 0.70.
struct seed_floor : detail::seed_code_policy<seed_floor> {
    static constexpr std::string_view name = "seed_floor";
    QUADFLOW_HOST_DEVICE float touched(const tile_context& t, const denoised_element& e) const {
        const float start = 0.70f + 0.25f * t.strength;
        return detail::seed_ramped_scale(start, t.strength, detail::seed_progress(t), 0.70f) * e.model_denoised;
    }
};

/// comfyui-quadtree-tile's HEAD (f5c0402; the blend of 66358ba) as it runs: D = b * x0_hat + (1 - b) * (x0 - x) with
/// b = d + (1 - d) * i / N; without an original, HEAD's fallback scale (0.70 + 0.30 d ramping toward 1).
struct seed_ramp : detail::seed_code_policy<seed_ramp> {
    static constexpr std::string_view name = "seed_ramp";
    QUADFLOW_HOST_DEVICE float touched(const tile_context& t, const denoised_element& e) const {
        const float d = t.strength, p = detail::seed_progress(t);
        if (!t.has_original) return detail::seed_ramped_scale(0.70f + 0.30f * d, d, p, 0.70f) * e.model_denoised;
        const float b = detail::clamp_to(d + (1.0f - d) * p, 0.0f, 1.0f);
        return b * e.model_denoised + (1.0f - b) * (e.original - e.x);
    }
};

/// A seed-code policy with the node's skip_diffusion_below set (image pixels).
template <class P>
P with_skip_below(std::int64_t pixels) {
    P p;
    p.skip_below = pixels;
    return p;
}

static_assert(denoised_slot_policy<seed_scale>);
static_assert(denoised_slot_policy<seed_floor>);
static_assert(denoised_slot_policy<seed_ramp>);
static_assert(!denoised_slot_policy<scale> && acts_on_v<scale> == prediction_slot::flow_velocity);
static_assert(!linear_policy<seed_ramp>);

}  // namespace quadflow::policy
