// quadflow Euler sampler on a flow velocity field: x' = x + (sigma' - sigma) * v(x, sigma).
#pragma once

#include <cstdint>
#include <string_view>

#include "quadflow/sampler/concepts.hpp"
#include "quadflow/sampler/detail.hpp"
#include "quadflow/sampler/euler_math.hpp"

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
        float* __restrict xs = x.data();
        const float* __restrict vs = velocity_.data();
        for (std::int64_t i = 0, n = x.numel(); i < n; ++i) xs[i] = euler_update(xs[i], vs[i], dt);
    }

private:
    host_tensor velocity_;
};
static_assert(sampler<euler>);

}  // namespace quadflow::sampler
