// quadflow finiteness checks: one NaN/Inf bit test (host and device), a vectorisable OR over it, the first offender for
// messages.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "quadflow/core/config.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"

namespace quadflow {

namespace detail {

/// 1 when `v` is NaN or infinite (its exponent bits all ones), else 0: a branch-free bit test, so that loops can
/// OR it over many values (compilers vectorise them). The CPU field, the CUDA kernels and the checks below use it.
QUADFLOW_HOST_DEVICE inline std::uint32_t non_finite_bit(float v) {
    constexpr std::uint32_t exponent = 0x7f800000u;
#if defined(__CUDA_ARCH__)
    return (__float_as_uint(v) & exponent) == exponent;
#else
    return (std::bit_cast<std::uint32_t>(v) & exponent) == exponent;
#endif
}

/// Whether any of `count` floats is NaN or infinite: one OR over exponent bit tests, which compilers vectorise.
inline bool any_non_finite(const float* values, std::int64_t count) {
    std::uint32_t found = 0;
    for (std::int64_t i = 0; i < count; ++i) found |= non_finite_bit(values[i]);
    return found != 0;
}

/// Index of the first NaN or infinite value among `count` floats, or -1.
inline std::int64_t first_non_finite(const float* values, std::int64_t count) {
    for (std::int64_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i])) return i;
    return -1;
}

}  // namespace detail

/// Throws invalid_argument "name[i] = value: requirement" for the first NaN/Inf element of a contiguous host
/// view; one vectorised pass when every element is finite.
inline void require_finite(const_view view, std::string_view name, std::string_view requirement) {
    require_contiguous_host(view, name);
    if (!detail::any_non_finite(view.data(), view.numel())) return;
    const std::int64_t i = detail::first_non_finite(view.data(), view.numel());
    throw invalid_argument(std::string(name) + "[" + std::to_string(i) + "]", detail::to_text(view.data()[i]),
                           requirement);
}

}  // namespace quadflow
