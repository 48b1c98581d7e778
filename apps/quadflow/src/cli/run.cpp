// quadflow CLI: the whole tool as a function (the `quadflow` program and the CLI fuzz target call it).
#include <ostream>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "quadflow/core/error.hpp"
#include "quadflow/version.hpp"
#include "quadflow_app/cli.hpp"
#include "quadflow_app/distributed.hpp"

namespace quadflow::cli {

void add_all_commands(CLI::App& app, std::ostream& out) {
    app.require_subcommand(1);
    app.option_defaults()->always_capture_default();
    app.set_version_flag("--version", QUADFLOW_VERSION_STRING);
    add_sampling_commands(app, out);
    add_tile_commands(app, out);
    add_img2img_commands(app, out);
    add_demo_command(app, out);
}

/// The first argument when it is neither a flag nor a subcommand.
std::string unknown_command(const CLI::App& app, int argc, const char* const* argv) {
    if (argc < 2 || argv[1][0] == '-') return {};
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub->check_name(argv[1])) return {};
    return argv[1];
}

std::string command_names(const CLI::App& app) {
    std::string names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        names += (names.empty() ? "" : ", ") + sub->get_name();
    return names;
}

/// The spelling of `flag`'s option that the command line used ("--max-denoise" for the error of "--max-strength"),
/// or `flag` when it names no option of the chosen subcommand or was not typed.
std::string typed_flag(const CLI::App& app, const std::string& flag, int argc, const char* const* argv) {
    for (const CLI::App* sub : app.get_subcommands()) {
        const CLI::Option* option = sub->get_option_no_throw(flag);
        if (option == nullptr) continue;
        std::string typed = flag;
        for (int i = 1; i < argc; ++i) {
            const std::string_view arg = argv[i];
            const std::string_view name = arg.substr(0, arg.find('='));
            if (name.starts_with("--") && option->check_lname(std::string(name.substr(2)))) typed = name;
        }
        return typed;
    }
    return flag;
}

/// An error's message with its flag spelled as the user typed it.
std::string as_typed(const CLI::App& app, const quadflow::invalid_argument& e, int argc, const char* const* argv) {
    const std::string message = e.what(), prefix = e.parameter() + " = ";
    if (!e.parameter().starts_with("--") || !message.starts_with(prefix)) return message;
    return typed_flag(app, e.parameter(), argc, argv) + message.substr(e.parameter().size());
}

int run_app(CLI::App& app, int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    if (const std::string command = unknown_command(app, argc, argv); !command.empty()) {
        err << "error: unknown command '" << command << "' (commands: " << command_names(app) << ")\n";
        return 2;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e, out, err);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e, out, err);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
        err << "error: " << e.what() << "\n";
        return 2;
    } catch (const quadflow::invalid_argument& e) {
        err << "error: " << as_typed(app, e, argc, argv) << "\n";
        app::mpi_world::abort_if_distributed(2);
        return 2;
    } catch (const quadflow::error& e) {
        err << "error: " << e.what() << "\n";
        app::mpi_world::abort_if_distributed(2);
        return 2;
    } catch (const std::exception& e) {
        err << "error: " << e.what() << "\n";
        app::mpi_world::abort_if_distributed(1);
        return 1;
    }
    return 0;
}

int run_cli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    CLI::App app{"quadflow: tiled rectified-flow sampling tools (JSON on stdout)"};
    add_all_commands(app, out);
    return run_app(app, argc, argv, out, err);
}

}  // namespace quadflow::cli
