// quadflow runtime sampler choice: a variant over the samplers, for CLIs and engines that pick at run time.
#pragma once

#include <span>
#include <string_view>
#include <utility>
#include <variant>

#include "quadflow/core/enum_table.hpp"
#include "quadflow/sampler/dpmpp_2m.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/heun.hpp"
#include "quadflow/sampler/sample.hpp"

namespace quadflow::sampler {

/// One of the samplers; each alternative's `name` (euler|heun|dpmpp-2m) is its CLI spelling.
using any_sampler = std::variant<euler, heun, dpmpp_2m>;

/// The sampler named `name` (euler|heun|dpmpp-2m); throws invalid_argument
/// "parameter = name: must be one of euler|heun|dpmpp-2m".
inline any_sampler parse_sampler(std::string_view name, std::string_view parameter = "sampler") {
    return parse_alternative<any_sampler>(name, parameter);
}

inline std::string_view name_of(const any_sampler& s) { return alternative_name(s); }

/// `sample` with the sampler `s` holds: the same steps, bit for bit, as calling it on that sampler.
template <velocity_field F, observer O = no_observer>
sample_result sample(any_sampler& s, F& field, mutable_view x, std::span<const double> sigmas, O&& observe = {}) {
    return std::visit([&](auto& chosen) { return sample(chosen, field, x, sigmas, std::forward<O>(observe)); }, s);
}

}  // namespace quadflow::sampler
