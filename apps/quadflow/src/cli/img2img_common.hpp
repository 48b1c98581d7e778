// quadflow CLI: what the img2img and demo commands share: their default settings, the report as JSON and the
// progress bar (defined in img2img_command.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "cli/json.hpp"
#include "quadflow_app/img2img_pipeline.hpp"

namespace quadflow::cli {

/// Defaults shared by `img2img` and `demo`: the seed system's settings (min_strength = 0 leaves the largest,
/// flattest tiles unchanged, as its user report asks).
struct shared_defaults {
    static constexpr const char* sampler = "euler";
    static constexpr int steps = 20;
    static constexpr std::uint64_t seed = 42;
    static constexpr double min_strength = 0.0, max_strength = 0.8;
};

/// An img2img's report as the JSON that `img2img --stats` writes and the demo's report.json lists.
json report_json(const app::img2img_report& r);

/// A progress bar on stderr, redrawn in place on a terminal; otherwise one line when a run finishes.
void show_progress(const std::string& name, int done, int total);

}  // namespace quadflow::cli
