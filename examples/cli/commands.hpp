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

}  // namespace quadflow::cli
