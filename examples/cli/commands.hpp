// quadflow CLI: registration of each group of subcommands.
#pragma once

#include <CLI/CLI.hpp>

namespace quadflow::cli {

/// `schedule`, `noise` and `toy`.
void add_sampling_commands(CLI::App& app);

/// `quadtree` and `grid`.
void add_tile_commands(CLI::App& app);

/// `img2img` and `demo`.
void add_img2img_commands(CLI::App& app);

/// Every subcommand of the `quadflow` tool, one of which is required.
void add_all_commands(CLI::App& app);

/// Parses the command line and runs the chosen subcommand: 0 on success, 2 with one line on stderr for bad
/// input (a CLI11 parse error or a quadflow::error), 1 for any other exception. Never calls exit().
int run_app(CLI::App& app, int argc, const char* const* argv);

/// The `quadflow` program: run_app over a new app with every subcommand.
int run_cli(int argc, const char* const* argv);

}  // namespace quadflow::cli
