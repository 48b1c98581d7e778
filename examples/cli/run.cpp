// quadflow CLI: the whole tool as a function (the `quadflow` program and the CLI fuzz target call it).
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "quadflow/core/error.hpp"

namespace quadflow::cli {

void add_all_commands(CLI::App& app) {
    app.require_subcommand(1);
    add_sampling_commands(app);
    add_tile_commands(app);
    add_img2img_commands(app);
}

int run_app(CLI::App& app, int argc, const char* const* argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const quadflow::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

int run_cli(int argc, const char* const* argv) {
    CLI::App app{"quadflow: tiled rectified-flow sampling tools (JSON on stdout)"};
    add_all_commands(app);
    return run_app(app, argc, argv);
}

}  // namespace quadflow::cli
