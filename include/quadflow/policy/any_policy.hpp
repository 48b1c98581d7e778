// quadflow runtime policy choice: a variant over the policy types, for CLIs and engines that pick at run time.
#pragma once

#include <string_view>
#include <type_traits>
#include <variant>

#include "quadflow/core/enum_table.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/policy/seed_code.hpp"

namespace quadflow::policy {

/// The seed document's velocity reading, the exact policies, then the seed's code as it runs (denoised slot).
using any_policy = std::variant<scale, floor, preservation_blend, skip, strength, mask, progress_ramp, seed_scale,
                                seed_floor, seed_ramp>;

/// The policy named `name` (scale|floor|preservation_blend|skip|strength|mask|progress_ramp|seed_scale|seed_floor|
/// seed_ramp) with its default parameters; `floor_070`, floor's former name, is accepted too.
inline any_policy parse_policy(std::string_view name) {
    if (name == "floor_070") return floor{};
    return parse_alternative<any_policy>(name, "policy");
}

/// Whether the policy `p` holds reads a per-pixel strength map (policy::needs_strength_map_v).
inline bool needs_strength_map(const any_policy& p) {
    return std::visit([](const auto& q) { return needs_strength_map_v<std::decay_t<decltype(q)>>; }, p);
}

inline std::string_view name_of(const any_policy& p) {
    return std::visit([](const auto& q) -> std::string_view { return q.name; }, p);
}

}  // namespace quadflow::policy
