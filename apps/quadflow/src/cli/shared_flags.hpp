// quadflow CLI: flags that several subcommands take alike (--sampler, the strength range), added in one place.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/flag_checks.hpp"
#include "quadflow/core/enum_table.hpp"
#include "quadflow/sampler/any_sampler.hpp"

namespace quadflow::cli {

/// `--sampler`, one of the samplers the library parses.
inline CLI::Option* add_sampler_option(CLI::App& cmd, std::string& sampler) {
    return cmd.add_option("--sampler", sampler, joined_alternative_names<sampler::any_sampler>())
        ->check(one_of(alternative_names<sampler::any_sampler>()));
}

/// `--min-strength` and `--max-strength` (alias `--min-denoise`, `--max-denoise`): the quadtree's strength range.
inline void add_strength_range_options(CLI::App& cmd, double& min_strength, double& max_strength,
                                       const std::string& min_description, const std::string& max_description) {
    cmd.add_option("--min-strength,--min-denoise", min_strength, min_description);
    cmd.add_option("--max-strength,--max-denoise", max_strength, max_description);
}

}  // namespace quadflow::cli
