// quadflow prediction kinds: what a model returns, and exact conversions to the flow velocity samplers use.
//
// Sigma convention throughout (FLUX, diffusers, ComfyUI, stable-diffusion.cpp):
//   x = (1 - sigma) * x0 + sigma * noise,  sigma = 1 is pure noise, sigma = 0 is clean.
// The quadtree-tile design note's "t" convention is t = 1 - sigma with X = t * x0 + (1 - t) * noise.
//
//   kind            | the value p a model writes          | flow velocity v = dx/dsigma
//   flow_velocity   | v = noise - x0                      | v
//   denoised        | D = x0 estimate = x - sigma * v     | (x - D) / sigma          (sigma > 0)
//   t_velocity      | u = dX/dt = x0 - noise = -v         | -u
//   epsilon         | noise estimate = x + (1 - sigma) v  | (eps - x) / (1 - sigma)  (sigma < 1)
#pragma once

#include <string>
#include <string_view>

#include "quadflow/core/config.hpp"
#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"

namespace quadflow::prediction {

enum class kind {
    flow_velocity,  ///< v = noise - x0 = dx/dsigma (FLUX transformer output, diffusers, BFL)
    denoised,       ///< x0 estimate (ComfyUI model wrapper, stable-diffusion.cpp denoise callback)
    t_velocity,     ///< u = x0 - noise = dX/dt with t = 1 - sigma (the quadtree-tile design note's convention)
    epsilon,        ///< noise estimate
};

constexpr auto enum_names(kind) {
    return make_enum_table<kind>("prediction_kind", "prediction::kind",
                                 {{kind::flow_velocity, "flow_velocity"},
                                  {kind::denoised, "denoised"},
                                  {kind::t_velocity, "t_velocity"},
                                  {kind::epsilon, "epsilon"}});
}

inline std::string_view to_string(kind k) { return quadflow::to_string(k); }

/// Parses flow_velocity|denoised|t_velocity|epsilon.
inline kind parse_kind(std::string_view name) { return quadflow::parse<kind>(name); }

/// Flow velocity v (sigma convention) from a prediction `p` of kind `k` at state `x` and `sigma`.
/// `denoised` needs sigma > 0, `epsilon` needs sigma < 1.
QUADFLOW_HOST_DEVICE inline float to_flow_velocity(kind k, float p, float x, float sigma) {
    switch (k) {
        case kind::flow_velocity:
            return p;
        case kind::denoised:
            return (x - p) / sigma;
        case kind::t_velocity:
            return -p;
        case kind::epsilon:
            return (p - x) / (1.0f - sigma);
    }
    return p;
}

/// The prediction of kind `k` that corresponds to flow velocity `v` at state `x` and `sigma`.
QUADFLOW_HOST_DEVICE inline float from_flow_velocity(kind k, float v, float x, float sigma) {
    switch (k) {
        case kind::flow_velocity:
            return v;
        case kind::denoised:
            return x - sigma * v;
        case kind::t_velocity:
            return -v;
        case kind::epsilon:
            return x + (1.0f - sigma) * v;
    }
    return v;
}

/// Checks that converting a prediction of kind `k` at `sigma` is defined.
inline void require_convertible(kind k, double sigma) {
    require(sigma >= 0.0 && sigma <= 1.0, "sigma", sigma, "must be in [0, 1]");
    if (k == kind::denoised) require(sigma > 0.0, "sigma", sigma, "a denoised prediction has no velocity at sigma = 0");
    if (k == kind::epsilon) require(sigma < 1.0, "sigma", sigma, "an epsilon prediction has no velocity at sigma = 1");
}

namespace detail {
/// out(i) = convert(in(i), x(i)) for every element, in NCHW order (`out` may alias `in`).
template <class Convert>
void convert_each(const_view in, const_view x, mutable_view out, Convert convert) {
    const auto& sh = x.shape();
    for (std::int64_t n = 0; n < sh.n; ++n)
        for (std::int64_t c = 0; c < sh.c; ++c)
            for (std::int64_t h = 0; h < sh.h; ++h)
                for (std::int64_t w = 0; w < sh.w; ++w) out(n, c, h, w) = convert(in(n, c, h, w), x(n, c, h, w));
}
}  // namespace detail

/// Converts a whole tensor of predictions to flow velocity in place-safe fashion (`out` may alias
/// `predicted`). All three views must share one shape.
inline void to_flow_velocity(kind k, const_view predicted, const_view x, double sigma, mutable_view out) {
    require_same_shape(predicted.shape(), x.shape(), "prediction", "x");
    require_same_shape(out.shape(), x.shape(), "output", "x");
    require_convertible(k, sigma);
    require_host(predicted, "prediction");
    require_host(x, "x");
    require_host(out, "output");
    detail::convert_each(predicted, x, out, [k, s = static_cast<float>(sigma)](float p, float xv) {
        return to_flow_velocity(k, p, xv, s);
    });
}

/// Converts a whole tensor of flow velocities to predictions of kind `k` (`out` may alias `velocity`).
inline void from_flow_velocity(kind k, const_view velocity, const_view x, double sigma, mutable_view out) {
    require_same_shape(velocity.shape(), x.shape(), "velocity", "x");
    require_same_shape(out.shape(), x.shape(), "output", "x");
    require(sigma >= 0.0 && sigma <= 1.0, "sigma", sigma, "must be in [0, 1]");
    require_host(velocity, "velocity");
    require_host(x, "x");
    require_host(out, "output");
    detail::convert_each(velocity, x, out, [k, s = static_cast<float>(sigma)](float v, float xv) {
        return from_flow_velocity(k, v, xv, s);
    });
}

}  // namespace quadflow::prediction
