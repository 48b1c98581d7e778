// quadflow sampler internals: argument checks and Eigen maps over contiguous host views.
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"

namespace quadflow::sampler::detail {

using array_map = Eigen::Map<Eigen::ArrayXf, Eigen::Unaligned>;
using const_array_map = Eigen::Map<const Eigen::ArrayXf, Eigen::Unaligned>;

inline array_map as_array(mutable_view v) { return {v.data(), static_cast<Eigen::Index>(v.numel())}; }
inline const_array_map as_array(const_view v) { return {v.data(), static_cast<Eigen::Index>(v.numel())}; }
inline array_map as_array(host_tensor& t) { return {t.data(), static_cast<Eigen::Index>(t.numel())}; }

inline void check_step(const mutable_view& x, const shape4& prepared, double sigma, double sigma_next) {
    require_contiguous_host(x, "x");
    if (!(x.shape() == prepared))
        throw shape_error("sampler: x has shape " + to_string(x.shape()) + " but reset() prepared " +
                          to_string(prepared));
    require(std::isfinite(sigma) && sigma > 0.0 && sigma <= 1.0, "sigma", sigma, "must be in (0, 1]");
    require(std::isfinite(sigma_next) && sigma_next >= 0.0 && sigma_next < sigma, "sigma_next", sigma_next,
            "must be in [0, sigma)");
}

}  // namespace quadflow::sampler::detail
