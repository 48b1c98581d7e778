// quadflow CLI: the `quadflow` tool as functions (the program, the CLI tests and the CLI fuzz target call them).
#pragma once

#include <iostream>
#include <ostream>

#include <CLI/CLI.hpp>

namespace quadflow::cli {

/// `schedule`, `noise` and `toy`, printing their JSON to `out`.
void add_sampling_commands(CLI::App& app, std::ostream& out);

/// `quadtree` and `grid`, printing their JSON to `out`.
void add_tile_commands(CLI::App& app, std::ostream& out);

/// `img2img` and `upscale`, printing their reports to `out` (progress goes to stderr).
void add_img2img_commands(CLI::App& app, std::ostream& out);

/// `demo`, printing its tables to `out` (progress goes to stderr).
void add_demo_command(CLI::App& app, std::ostream& out);

/// Every subcommand of the `quadflow` tool, one of which is required; `out` must outlive `app`.
void add_all_commands(CLI::App& app, std::ostream& out);

/// Parses the command line and runs the chosen subcommand: 0 on success, 2 with one line on `err` for bad
/// input (a CLI11 parse error or a quadflow::error), 1 for any other exception. Help and --version go to `out`.
/// Never calls exit().
int run_app(CLI::App& app, int argc, const char* const* argv, std::ostream& out = std::cout,
            std::ostream& err = std::cerr);

/// The `quadflow` program: run_app over a new app with every subcommand.
int run_cli(int argc, const char* const* argv, std::ostream& out = std::cout, std::ostream& err = std::cerr);

}  // namespace quadflow::cli
