// quadflow CLI: the schedule flags shared by several subcommands, and building the schedule they name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/flag_checks.hpp"
#include "quadflow/schedule/schedule.hpp"

namespace quadflow::cli {

struct schedule_options {
    int steps = 20;
    std::string scheduler = "flux";
    int width = 1024, height = 1024;
    std::optional<double> mu;
    double shift = 3.0;
    double denoise = 1.0;
    std::optional<double> strength;
    std::string strength_rule = "diffusers";

    schedule::schedule_spec spec() const {
        schedule::schedule_spec s;
        s.kind = schedule::parse_scheduler(scheduler);
        s.steps = steps;
        s.shift = shift;
        if (mu)
            s.mu = *mu;
        else if (s.kind == schedule::scheduler::flux)
            s.mu = schedule::flux_mu(width, height);
        return s;
    }

    /// The full schedule after --denoise (ComfyUI KSampler truncation) and --strength (img2img rule).
    std::vector<double> build() const {
        const schedule::schedule_spec s = spec();
        if (!strength) return schedule::build(s, denoise);
        require(denoise == 1.0, "--denoise", denoise, "cannot be combined with --strength");
        const auto rule = schedule::parse_strength_rule(strength_rule);
        if (rule == schedule::strength_rule::comfy) return schedule::build(s, *strength);
        const std::vector<double> full = schedule::build(s);
        return schedule::img2img_sigmas(full, *strength, rule);
    }
};

inline void add_schedule_flags(CLI::App& cmd, schedule_options& o) {
    add_bounded_option(cmd, "--steps", o.steps, 1, max_cli_steps, "Number of sampling steps");
    cmd.add_option("--scheduler", o.scheduler, joined_names<schedule::scheduler>())
        ->check(one_of(names<schedule::scheduler>()));
    cmd.add_option("--width", o.width, "Image width in pixels (FLUX dynamic shift)");
    cmd.add_option("--height", o.height, "Image height in pixels (FLUX dynamic shift)");
    cmd.add_option("--mu", o.mu, "Shift mu (default: from the image size for flux, 1.15 for comfy-*)");
    cmd.add_option("--shift", o.shift, "Static shift for shift and diffusers-shift");
    cmd.add_option("--denoise", o.denoise, "ComfyUI KSampler denoise in (0, 1]");
    cmd.add_option("--strength", o.strength, "img2img strength in [0, 1]");
    cmd.add_option("--strength-rule", o.strength_rule, joined_names<schedule::strength_rule>())
        ->check(one_of(names<schedule::strength_rule>()));
}

}  // namespace quadflow::cli
