// quadflow Heun sampler (flow form, as ComfyUI's sample_heun): predictor-corrector, last step to 0 is Euler.
#pragma once

#include <string_view>

#include "quadflow/sampler/concepts.hpp"
#include "quadflow/sampler/detail.hpp"

namespace quadflow::sampler {

class heun {
public:
    static constexpr std::string_view name = "heun";

    void reset(shape4 shape) {
        if (!(velocity_.shape() == shape)) {
            velocity_ = host_tensor(shape);
            predicted_ = host_tensor(shape);
            velocity_next_ = host_tensor(shape);
        }
    }

    template <velocity_field F>
    void step(F& field, mutable_view x, double sigma, double sigma_next) {
        detail::check_step(x, velocity_.shape(), sigma, sigma_next);
        field(const_view(x), sigma, velocity_.view());
        const float dt = static_cast<float>(sigma_next - sigma);
        auto xa = detail::as_array(x);
        auto v = detail::as_array(velocity_);
        if (sigma_next == 0.0) {
            xa += dt * v;
            return;
        }
        detail::as_array(predicted_) = xa + dt * v;
        field(predicted_.cview(), sigma_next, velocity_next_.view());
        xa += (0.5f * dt) * (v + detail::as_array(velocity_next_));
    }

private:
    host_tensor velocity_, predicted_, velocity_next_;
};
static_assert(sampler<heun>);

}  // namespace quadflow::sampler
