// quadflow Euler sampler on a flow velocity field: x' = x + (sigma' - sigma) * v(x, sigma).
#pragma once

#include <string_view>

#include "quadflow/sampler/concepts.hpp"
#include "quadflow/sampler/detail.hpp"

namespace quadflow::sampler {

class euler {
public:
    static constexpr std::string_view name = "euler";

    void reset(shape4 shape) {
        if (!(velocity_.shape() == shape)) velocity_ = host_tensor(shape);
    }

    template <velocity_field F>
    void step(F& field, mutable_view x, double sigma, double sigma_next) {
        detail::check_step(x, velocity_.shape(), sigma, sigma_next);
        field(const_view(x), sigma, velocity_.view());
        const float dt = static_cast<float>(sigma_next - sigma);
        detail::as_array(x) += dt * detail::as_array(velocity_);
    }

private:
    host_tensor velocity_;
};
static_assert(sampler<euler>);

}  // namespace quadflow::sampler
