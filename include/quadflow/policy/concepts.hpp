// quadflow policy concepts: what a velocity policy is (requirements, a minimal conforming type), and what it sees of a
// tile and of an element.
#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>

#include "quadflow/core/config.hpp"

namespace quadflow::policy {

/// What a policy knows about one tile at one evaluation.
struct tile_context {
    float strength = 1.0f;            ///< the tile's strength d in [0, 1]
    float sigma = 1.0f;               ///< noise level of this evaluation
    int step = 0;                     ///< schedule step the evaluation belongs to
    int total_steps = 1;              ///< steps in the schedule
    int start_step = 0;               ///< first step at which an img2img run of strength d is under way
    float tau = 1.0f;                 ///< (sigma - sigma_end) / (sigma_start - sigma_end) of the schedule
    std::int64_t min_pixel_side = 0;  ///< min(width, height) of the tile's core in image pixels
    float max_pixel_strength = 1.0f;  ///< largest mask value over the tile's padded rectangle (mask policy)
    int sigma_index = 0;              ///< index of the schedule sigma nearest to `sigma` (first of equals)
    bool has_original = false;        ///< whether the field was given an original (img2img)
};

/// Which prediction a policy's formulas are written on: the flow velocity, or ComfyUI's denoised estimate x0_hat.
enum class prediction_slot { flow_velocity, denoised };

/// P::acts_on where P declares it, else prediction_slot::flow_velocity.
template <class P>
inline constexpr prediction_slot acts_on_v = [] {
    if constexpr (requires { P::acts_on; })
        return static_cast<prediction_slot>(P::acts_on);
    else
        return prediction_slot::flow_velocity;
}();

/// What a policy knows about one element.
struct element {
    float model_velocity;  ///< flow velocity from the model (0 when the model was not called)
    float x;               ///< current state
    float original;        ///< clean original x0 (0 when there is none)
    float strength;        ///< per-pixel strength: the mask value for `mask`, the tile's d otherwise
};

/// A velocity that is linear in the model's velocity and the preservation direction, with coefficients
/// constant over a tile: v = model * v_m + preserve * (x - x0). Exact preservation has preserve = 1/sigma
/// (times its weight), the naive one preserve = 1.
struct linear_velocity {
    float model = 0.0f;
    float preserve = 0.0f;
    QUADFLOW_HOST_DEVICE float operator()(const element& e) const {
        return model * e.model_velocity + preserve * (e.x - e.original);
    }
};

// velocity_policy: a small value type describing a per-tile velocity rule.
//
// Requirements, for `const P& p`, `const tile_context& t`, `const element& e`:
// - `P::name` is a std::string_view (CLI and report spelling); fields never decide anything by it.
// - `P::needs_original` is a bool: whether `velocity` reads `e.original` (img2img only).
// - Optional: `P::acts_on`, a prediction_slot (read it through acts_on_v; flow_velocity when absent): the slot its
//   rule is written on. `velocity` is still the flow velocity; seed_code.hpp's denoised_slot_policy says more.
// - Optional needs, each a `static constexpr bool` that defaults to false when absent (read them through
//   needs_strength_map_v / needs_schedule_v): `P::needs_strength_map`, the policy reads a per-pixel strength
//   map (`e.strength`, `t.max_pixel_strength`) and the field must be given one; `P::needs_schedule`, the
//   policy reads `t.start_step`, `t.tau` or `t.total_steps`, so the field must be given the schedule sampled.
// - `p.needs_model(t)` says whether the tile's model prediction is needed at this evaluation; a tile
//   that answers false is not sent to the model and `e.model_velocity` is 0 for it.
// - `p.velocity(t, e)` returns the element's flow velocity (sigma convention); host-device, pure.
// - Optional: `p.linear(t)` returns the tile's linear_velocity when the rule is the same linear form for
//   every element of the tile (all but `mask`); `velocity` is then that form, and fields use it to
//   vectorise.
// Minimal conforming type: detail::archetype_policy below; the simplest real one is policies.hpp's `scale`.

/// Whether P declares `needs_strength_map = true`; false when P does not declare it.
template <class P>
inline constexpr bool needs_strength_map_v = [] {
    if constexpr (requires { P::needs_strength_map; })
        return static_cast<bool>(P::needs_strength_map);
    else
        return false;
}();

/// Whether P declares `needs_schedule = true`; false when P does not declare it.
template <class P>
inline constexpr bool needs_schedule_v = [] {
    if constexpr (requires { P::needs_schedule; })
        return static_cast<bool>(P::needs_schedule);
    else
        return false;
}();

template <class P>
concept velocity_policy = requires(const P& p, const tile_context& t, const element& e) {
    { P::name } -> std::convertible_to<std::string_view>;
    { P::needs_original } -> std::convertible_to<bool>;
    { p.needs_model(t) } -> std::same_as<bool>;
    { p.velocity(t, e) } -> std::same_as<float>;
};
/// Policies whose velocity is one linear form per tile.
template <class P>
concept linear_policy = velocity_policy<P> && requires(const P& p, const tile_context& t) {
    { p.linear(t) } -> std::same_as<linear_velocity>;
};

namespace detail {
/// The smallest velocity_policy: the model's velocity everywhere, no optional needs.
struct archetype_policy {
    static constexpr std::string_view name = "archetype";
    static constexpr bool needs_original = false;
    QUADFLOW_HOST_DEVICE bool needs_model(const tile_context&) const { return true; }
    QUADFLOW_HOST_DEVICE float velocity(const tile_context&, const element& e) const { return e.model_velocity; }
};
}  // namespace detail
static_assert(velocity_policy<detail::archetype_policy>);
static_assert(!needs_strength_map_v<detail::archetype_policy> && !needs_schedule_v<detail::archetype_policy>);

}  // namespace quadflow::policy
