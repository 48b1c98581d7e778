// quadflow DPM++ 2M sampler in the form ComfyUI (k-diffusion sample_dpmpp_2m) and stable-diffusion.cpp run it.
//
// On the denoised estimate D = x - sigma * v with t = -ln(sigma), h = t' - t:
//   first step and the step to sigma' = 0:  x' = (sigma'/sigma) x - expm1(-h) D
//   otherwise, r = (t - t_prev) / h:        D' = (1 + 1/(2r)) D - (1/(2r)) D_prev
//                                           x' = (sigma'/sigma) x - expm1(-h) D'
#pragma once

#include <cmath>
#include <string_view>
#include <utility>

#include "quadflow/sampler/concepts.hpp"
#include "quadflow/sampler/detail.hpp"

namespace quadflow::sampler {

class dpmpp_2m {
public:
    static constexpr std::string_view name = "dpmpp-2m";

    void reset(shape4 shape) {
        if (!(velocity_.shape() == shape)) {
            velocity_ = host_tensor(shape);
            denoised_ = host_tensor(shape);
            denoised_prev_ = host_tensor(shape);
        }
        sigma_prev_ = 0.0;
        has_history_ = false;
    }

    template <velocity_field F>
    void step(F& field, mutable_view x, double sigma, double sigma_next) {
        detail::check_step(x, velocity_.shape(), sigma, sigma_next);
        field(const_view(x), sigma, velocity_.view());
        auto xa = detail::as_array(x);
        auto denoised = detail::as_array(denoised_);
        auto denoised_prev = detail::as_array(denoised_prev_);
        denoised = xa - static_cast<float>(sigma) * detail::as_array(velocity_);

        const float ratio = static_cast<float>(sigma_next / sigma);
        if (!has_history_ || sigma_next == 0.0) {
            xa = ratio * xa + (1.0f - ratio) * denoised;
        } else {
            const double t = -std::log(sigma), t_next = -std::log(sigma_next), t_prev = -std::log(sigma_prev_);
            const double h = t_next - t;
            const double r = (t - t_prev) / h;
            const float weight_now = static_cast<float>(1.0 + 1.0 / (2.0 * r));
            const float weight_prev = static_cast<float>(1.0 / (2.0 * r));
            const float decay = static_cast<float>(-std::expm1(-h));
            xa = ratio * xa + decay * (weight_now * denoised - weight_prev * denoised_prev);
        }
        std::swap(denoised_prev_, denoised_);  // same shapes: only the buffers trade places
        sigma_prev_ = sigma;
        has_history_ = true;
    }

private:
    host_tensor velocity_, denoised_, denoised_prev_;
    double sigma_prev_ = 0.0;
    bool has_history_ = false;
};
static_assert(sampler<dpmpp_2m>);

}  // namespace quadflow::sampler
