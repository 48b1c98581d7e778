// quadflow schedule validation: a sigma schedule is finite, starts at <= 1, strictly decreases and ends >= 0.
#pragma once

#include <cmath>
#include <span>
#include <string>

#include "quadflow/core/error.hpp"

namespace quadflow::schedule {

/// Checks a schedule: non-empty, finite, first <= 1, strictly decreasing, last >= 0.
/// Throws invalid_argument naming the offending `sigmas[i]` and its value.
inline void validate_schedule(std::span<const double> sigmas) {
    require(!sigmas.empty(), "sigmas.size()", sigmas.size(), "a schedule needs at least one sigma");
    for (std::size_t i = 0; i < sigmas.size(); ++i) {
        const double sigma = sigmas[i];
        const std::string name = "sigmas[" + std::to_string(i) + "]";
        require(std::isfinite(sigma), name, sigma, "must be finite");
        if (i == 0) require(sigma <= 1.0, name, sigma, "the first sigma must be <= 1");
        if (i > 0) require(sigma < sigmas[i - 1], name, sigma, "the schedule must strictly decrease");
        if (i + 1 == sigmas.size()) require(sigma >= 0.0, name, sigma, "the last sigma must be >= 0");
    }
}

}  // namespace quadflow::schedule
