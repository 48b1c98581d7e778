// quadflow finiteness checks: a vectorisable OR-reduction over float bits, then the first offender for the message.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"

namespace quadflow {

namespace detail {

/// Whether any of `count` floats is NaN or infinite: one OR over exponent bit tests, which compilers vectorise.
inline bool any_non_finite(const float* values, std::int64_t count) {
    constexpr std::uint32_t exponent = 0x7f800000u;  // NaN/Inf: exponent bits all ones
    std::uint32_t found = 0;
    for (std::int64_t i = 0; i < count; ++i) found |= (std::bit_cast<std::uint32_t>(values[i]) & exponent) == exponent;
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
