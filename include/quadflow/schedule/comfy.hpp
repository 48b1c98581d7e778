// quadflow schedule: ComfyUI FLUX schedulers (ModelSamplingFlux table, simple, beta) and KSampler denoise.
#pragma once

#include <climits>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/shift.hpp"

namespace quadflow::schedule {

/// Length of ComfyUI's ModelSamplingFlux sigma table (`set_parameters(timesteps=10000)`).
inline constexpr int comfy_flux_table_size = 10000;

/// ComfyUI's default FLUX mu (ModelSamplingFlux shift), used at every resolution.
inline constexpr double comfy_default_mu = 1.15;

/// ComfyUI comfy/model_sampling.py ModelSamplingFlux(shift = mu):
/// table[i] = flux_time_shift(mu, 1, (i + 1)/10000), i = 0..9999, rising to table[9999] = 1.
inline std::vector<double> comfy_flux_sigma_table(double mu = comfy_default_mu) {
    require(std::isfinite(mu), "mu", mu, "must be finite");
    std::vector<double> table(comfy_flux_table_size);
    for (int i = 0; i < comfy_flux_table_size; ++i)
        table[static_cast<std::size_t>(i)] = time_shift(mu, static_cast<double>(i + 1) / comfy_flux_table_size);
    return table;
}

/// Round half to even, as numpy.rint (default rounding mode) and Python's round().
inline double round_half_to_even(double v) {
    const double nearest = std::round(v);  // halves away from zero
    if (std::abs(nearest - v) == 0.5) return 2.0 * std::round(v / 2.0);
    return nearest;
}

namespace detail {

/// Continued fraction of I_y(p, q) (Numerical Recipes `betacf`, modified Lentz), without the prefactor.
template <class Real>
Real incomplete_beta_continued_fraction(Real p, Real q, Real y) {
    constexpr Real tiny = std::numeric_limits<Real>::min() / std::numeric_limits<Real>::epsilon();
    constexpr Real tolerance = std::numeric_limits<Real>::epsilon();
    const auto guard = [](Real v) { return std::abs(v) < tiny ? tiny : v; };
    Real c = 1;
    Real d = 1 / guard(1 - (p + q) * y / (p + 1));
    Real h = d;
    for (int m = 1; m <= 10000; ++m) {
        const Real two_m = 2 * m;
        const Real even = m * (q - m) * y / ((p - 1 + two_m) * (p + two_m));
        d = 1 / guard(1 + even * d);
        c = guard(1 + even / c);
        h *= d * c;
        const Real odd = -(p + m) * (p + q + m) * y / ((p + two_m) * (p + 1 + two_m));
        d = 1 / guard(1 + odd * d);
        c = guard(1 + odd / c);
        const Real delta = d * c;
        h *= delta;
        if (std::abs(delta - 1) < tolerance) break;
    }
    return h;
}

/// I_x(a, b) for x in [0, 1], a, b > 0, evaluated on the side where the continued fraction converges fast.
template <class Real>
Real regularized_incomplete_beta(Real x, Real a, Real b) {
    if (x == 0 || x == 1) return x;
    const Real log_beta = std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
    const Real front = std::exp(a * std::log(x) + b * std::log1p(-x) - log_beta);
    if (x < (a + 1) / (a + b + 2)) return front * incomplete_beta_continued_fraction(a, b, x) / a;
    return 1 - front * incomplete_beta_continued_fraction(b, a, 1 - x) / b;
}

/// Of x and its two neighbouring doubles, the one whose I_x(a, b) is closest to q, judged in long
/// double: settles exact ties such as Beta(2, 2) at 1/6 the way a correctly rounded quantile would.
inline double closest_quantile_neighbour(double x, double q, double a, double b) {
    using extended = long double;
    const auto error = [&](double candidate) {
        return std::abs(regularized_incomplete_beta<extended>(candidate, a, b) - static_cast<extended>(q));
    };
    double best = x;
    extended best_error = error(x);
    for (double candidate : {std::nextafter(x, 0.0), std::nextafter(x, 1.0)}) {
        const extended candidate_error = error(candidate);
        if (candidate_error < best_error) {
            best = candidate;
            best_error = candidate_error;
        }
    }
    return best;
}

}  // namespace detail

/// Regularized incomplete beta function I_x(a, b) for a, b > 0 (scipy.special.betainc): the
/// continued fraction of Numerical Recipes `betacf` (modified Lentz) with its lgamma prefactor.
inline double regularized_incomplete_beta(double x, double a, double b) {
    require(std::isfinite(a) && a > 0.0, "alpha", a, "must be finite and > 0");
    require(std::isfinite(b) && b > 0.0, "beta", b, "must be finite and > 0");
    require(x >= 0.0 && x <= 1.0, "x", x, "must be in [0, 1]");
    return detail::regularized_incomplete_beta<double>(x, a, b);
}

/// Quantile of the Beta(a, b) distribution: the x with I_x(a, b) = q (scipy.stats.beta.ppf).
/// Newton's method on I_x - q kept inside a shrinking bracket, bisecting whenever a Newton step
/// leaves it, until x is known to a few ulps; then the neighbouring double that fits best. The
/// lower tail is solved directly and the upper one through I_{1-x}(b, a) = 1 - q, so both ends keep
/// their accuracy; a symmetric median is exactly 1/2 and a = 1 or b = 1 use their closed forms
/// (the uniform case returns q itself).
inline double beta_quantile(double q, double a, double b) {
    require(std::isfinite(a) && a > 0.0, "alpha", a, "must be finite and > 0");
    require(std::isfinite(b) && b > 0.0, "beta", b, "must be finite and > 0");
    require(q >= 0.0 && q <= 1.0, "q", q, "must be in [0, 1]");
    if (q == 0.0 || q == 1.0) return q;
    if (a == b && q == 0.5) return 0.5;
    if (b == 1.0) return std::pow(q, 1.0 / a);             // I_x(a, 1) = x^a
    if (a == 1.0) return -std::expm1(std::log1p(-q) / b);  // I_x(1, b) = 1 - (1 - x)^b
    if (q > 0.5) return 1.0 - beta_quantile(1.0 - q, b, a);

    const double log_beta = std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
    const auto density = [&](double x) {
        return std::exp((a - 1.0) * std::log(x) + (b - 1.0) * std::log1p(-x) - log_beta);
    };
    // Start from the lower-tail leading term I_x ~ x^a / (a B(a, b)).
    const double tail_guess = std::exp((std::log(q) + std::log(a) + log_beta) / a);
    double x = tail_guess > 0.0 && tail_guess < 0.5 ? tail_guess : 0.5;
    double low = 0.0, high = 1.0;
    constexpr double relative_precision = 4.0 * std::numeric_limits<double>::epsilon();
    for (int iteration = 0; iteration < 2000; ++iteration) {
        const double residual = detail::regularized_incomplete_beta(x, a, b) - q;
        if (residual == 0.0) break;
        (residual < 0.0 ? low : high) = x;
        double next = x - residual / density(x);
        if (!(next > low && next < high)) next = 0.5 * (low + high);
        const bool converged =
            std::abs(next - x) <= relative_precision * next || high - low <= relative_precision * high;
        x = next;
        if (converged) break;
    }
    return detail::closest_quantile_neighbour(x, q, a, b);
}

/// ComfyUI comfy/samplers.py `simple_scheduler` on the FLUX table: for x = 0..N-1 take
/// table[-(1 + int(x * len/N))], then 0.
inline std::vector<double> comfy_simple(int steps, double mu = comfy_default_mu) {
    detail::require_steps(steps);
    const std::vector<double> table = comfy_flux_sigma_table(mu);
    const double stride = static_cast<double>(table.size()) / steps;
    std::vector<double> sigmas;
    sigmas.reserve(static_cast<std::size_t>(steps) + 1);
    for (int x = 0; x < steps; ++x) {
        const auto back = static_cast<std::size_t>(x * stride);
        sigmas.push_back(table[table.size() - 1 - back]);
    }
    sigmas.push_back(0.0);
    return sigmas;
}

/// Table indices chosen by ComfyUI comfy/samplers.py `beta_scheduler`:
/// ts = 1 - numpy.linspace(0, 1, N, endpoint=False); t = numpy.rint(beta.ppf(ts, alpha, beta) * 9999);
/// consecutive repeats dropped. Fewer than N indices when the quantiles collide.
inline std::vector<int> comfy_beta_table_indices(int steps, double alpha = 0.6, double beta = 0.6) {
    detail::require_steps(steps);
    require(std::isfinite(alpha) && alpha > 0.0, "alpha", alpha, "must be finite and > 0");
    require(std::isfinite(beta) && beta > 0.0, "beta", beta, "must be finite and > 0");
    constexpr double last_index = comfy_flux_table_size - 1;
    const double spacing = 1.0 / steps;
    std::vector<int> indices;
    indices.reserve(static_cast<std::size_t>(steps));
    for (int i = 0; i < steps; ++i) {
        const double ts = 1.0 - i * spacing;
        const int index = static_cast<int>(round_half_to_even(beta_quantile(ts, alpha, beta) * last_index));
        if (indices.empty() || indices.back() != index) indices.push_back(index);
    }
    return indices;
}

/// ComfyUI `beta_scheduler` (arXiv 2407.12173, alpha = beta = 0.6) on the FLUX table, then 0.
/// Repeated quantiles are dropped, so a schedule can have fewer than N steps.
inline std::vector<double> comfy_beta(int steps, double mu = comfy_default_mu, double alpha = 0.6, double beta = 0.6) {
    const std::vector<int> indices = comfy_beta_table_indices(steps, alpha, beta);
    const std::vector<double> table = comfy_flux_sigma_table(mu);
    std::vector<double> sigmas;
    sigmas.reserve(indices.size() + 1);
    for (int index : indices) sigmas.push_back(table[static_cast<std::size_t>(index)]);
    sigmas.push_back(0.0);
    return sigmas;
}

/// ComfyUI KSampler denoise (comfy/samplers.py `KSampler.set_steps`, also the BasicScheduler node):
/// denoise > 0.9999 gives the plain N-step schedule; otherwise the schedule of int(N / denoise)
/// steps is built and its last N + 1 sigmas are kept (all of it when it is shorter).
/// `make_schedule(int steps)` returns a schedule, e.g. [](int n) { return comfy_simple(n); }.
template <class Make>
std::vector<double> comfy_denoise(Make make_schedule, int steps, double denoise) {
    detail::require_steps(steps);
    require(denoise > 0.0 && denoise <= 1.0, "denoise", denoise, "must be in (0, 1]");
    if (denoise > 0.9999) return make_schedule(steps);
    const double stretched = static_cast<double>(steps) / denoise;
    require(stretched <= static_cast<double>(max_steps), "denoise", denoise,
            "too small: int(steps / denoise) = " + quadflow::detail::to_text(std::floor(stretched)) +
                " steps is more than max_steps = " + std::to_string(max_steps));
    const std::vector<double> full = make_schedule(static_cast<int>(stretched));
    const std::size_t keep = static_cast<std::size_t>(steps) + 1;
    if (full.size() <= keep) return full;
    return std::vector<double>(full.end() - static_cast<std::ptrdiff_t>(keep), full.end());
}

}  // namespace quadflow::schedule
