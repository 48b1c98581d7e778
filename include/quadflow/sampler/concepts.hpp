// quadflow sampler concepts: a velocity field over the whole canvas, and a sampler that steps on it.
#pragma once

#include <concepts>
#include <string_view>

#include "quadflow/core/tensor.hpp"

namespace quadflow::sampler {

/// velocity_field: anything that gives the flow velocity of the whole canvas.
///
/// Requirements, for `F& f`, `const_view x`, `double sigma`, `mutable_view v`:
/// - `f(x, sigma, v)` writes into `v` the flow velocity v = dx/dsigma = noise - x0 (sigma
///   convention, see quadflow/prediction) at state `x` and noise level `sigma` in (0, 1].
/// - `v` has the shape of `x`; both are contiguous host memory for the CPU samplers.
/// - The field may keep state across calls (caches, counters) but must not keep the views.
///
/// Minimal conforming type: `constant_velocity` below. A lambda
/// `[](const_view x, double sigma, mutable_view v) { ... }` conforms too.
template <class F>
concept velocity_field = requires(F& f, const_view x, double sigma, mutable_view v) {
    f(x, sigma, v);
};

/// The velocity field v(x, sigma) = c everywhere; every sampler integrates it exactly.
struct constant_velocity {
    float value = 0.0f;
    void operator()(const_view, double, mutable_view v) const {
        for (float& e : v.span()) e = value;
    }
};
static_assert(velocity_field<constant_velocity>);

/// sampler: advances the canvas from one sigma of a schedule to the next.
///
/// Requirements, for `S& s`, a velocity field `F& f`, `mutable_view x`, `double sigma, sigma_next`:
/// - `S::name` is a `std::string_view` naming the method (CLI and report spelling).
/// - `s.reset(shape)` prepares scratch memory for latents of `shape` and forgets history; it is
///   the only call that may allocate.
/// - `s.step(f, x, sigma, sigma_next)` replaces `x` (state at `sigma`) by the state at
///   `sigma_next < sigma`, calling `f` at sigmas in [sigma_next, sigma] with sigma > 0 only.
///   Steps of one run are made in schedule order; multistep methods keep their history in `s`.
///
/// Minimal conforming type: `quadflow::sampler::euler`.
template <class S, class F = constant_velocity>
concept sampler = velocity_field<F> && requires(S& s, F& f, mutable_view x, double sigma, shape4 shape) {
    { S::name } -> std::convertible_to<std::string_view>;
    s.reset(shape);
    s.step(f, x, sigma, sigma);
};

}  // namespace quadflow::sampler
