// quadflow CLI: schedules, torch-compatible noise, the toy sampler and tile layouts as JSON on stdout.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "quadflow/core/error.hpp"

int main(int argc, char** argv) {
    CLI::App app{"quadflow: tiled rectified-flow sampling tools (JSON on stdout)"};
    app.require_subcommand(1);
    quadflow::cli::add_sampling_commands(app);
    quadflow::cli::add_tile_commands(app);
    quadflow::cli::add_img2img_commands(app);
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
