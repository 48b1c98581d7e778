// quadflow analytic model: a tile model for per-element Gaussian data N(mu, s^2) with its exact flow velocity (the
// app's default "prompt" model, the minimal example's model, and the tests' exact reference).
//
// With x = (1 - sigma) x0 + sigma n, x0 ~ N(mu, s^2), n ~ N(0, 1) per element:
//   E[x0 | x] = mu + (1 - sigma) s^2 (x - (1 - sigma) mu) / ((1 - sigma)^2 s^2 + sigma^2)
//   v(x, sigma) = (x - E[x0 | x]) / sigma                       (flow velocity, sigma convention)
// The ODE dx/dsigma = v from x(1) = n has the exact solution
//   x(sigma) = (1 - sigma) mu + sqrt((1 - sigma)^2 s^2 + sigma^2) n,   so x(0) = mu + s n.
#pragma once

#include <cmath>
#include <cstdint>

#include "quadflow/core/config.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::model {

/// E[x0 | x] for one element (sigma convention).
QUADFLOW_HOST_DEVICE inline double gaussian_posterior_mean(double x, double sigma, double mu, double data_std) {
    const double keep = 1.0 - sigma;
    const double var0 = data_std * data_std;
    const double denom = keep * keep * var0 + sigma * sigma;
    return mu + keep * var0 * (x - keep * mu) / denom;
}

/// Exact flow velocity v = (x - E[x0|x]) / sigma for one element, sigma > 0.
QUADFLOW_HOST_DEVICE inline double gaussian_velocity(double x, double sigma, double mu, double data_std) {
    return (x - gaussian_posterior_mean(x, sigma, mu, data_std)) / sigma;
}

/// Exact ODE solution at `sigma` from noise `n` at sigma = 1.
QUADFLOW_HOST_DEVICE inline double gaussian_solution(double n, double sigma, double mu, double data_std) {
    const double keep = 1.0 - sigma;
    return keep * mu + std::sqrt(keep * keep * data_std * data_std + sigma * sigma) * n;
}

/// A tile model whose "prompt target" is the canvas-sized tensor `mu` (1 x C x H x W) with per-element
/// spread `data_std`; it writes its exact prediction in the kind it was built with.
class gaussian_model {
public:
    gaussian_model(const_view mu, double data_std, prediction::kind output = prediction::kind::flow_velocity)
        : mu_(mu), data_std_(data_std), output_(output) {
        require_host(mu, "gaussian_model.mu");
        require(mu.shape().n == 1, "gaussian_model.mu.shape().n", mu.shape().n, "must be 1 (one target image)");
        require(std::isfinite(data_std) && data_std >= 0.0, "data_std", data_std, "must be finite and >= 0");
    }

    prediction::kind prediction_kind() const { return output_; }
    const_view target() const { return mu_; }
    double data_std() const { return data_std_; }
    std::int64_t calls() const { return calls_; }
    std::int64_t tiles_evaluated() const { return tiles_; }
    std::int64_t elements_evaluated() const { return elements_; }

    void operator()(const model::batch_request& request, mutable_view out) {
        model::check_request(request, out);
        require_host(request.x, "model input");
        require_host(out, "model output");
        if (request.x.shape().c != mu_.shape().c)
            throw invalid_argument("model input channels", std::to_string(request.x.shape().c),
                                   "must equal the target's " + std::to_string(mu_.shape().c));
        prediction::require_convertible(output_, request.sigma);
        ++calls_;
        tiles_ += request.x.shape().n;
        elements_ += request.x.numel();
        const auto& sh = request.x.shape();
        const float sigma = static_cast<float>(request.sigma);
        for (std::int64_t b = 0; b < sh.n; ++b) {
            const rect& r = request.tiles[static_cast<std::size_t>(b)].padded;
            for (std::int64_t c = 0; c < sh.c; ++c)
                for (std::int64_t y = 0; y < sh.h; ++y) {
                    const std::int64_t cy = reflect_index(r.y + y, mu_.shape().h);
                    for (std::int64_t x = 0; x < sh.w; ++x) {
                        const std::int64_t cx = reflect_index(r.x + x, mu_.shape().w);
                        const float xv = request.x(b, c, y, x);
                        const double v = gaussian_velocity(xv, request.sigma, mu_(0, c, cy, cx), data_std_);
                        out(b, c, y, x) = prediction::from_flow_velocity(output_, static_cast<float>(v), xv, sigma);
                    }
                }
        }
    }

private:
    const_view mu_;
    double data_std_;
    prediction::kind output_;
    std::int64_t calls_ = 0, tiles_ = 0, elements_ = 0;
};
static_assert(model::tile_model<gaussian_model>);

}  // namespace quadflow::model
