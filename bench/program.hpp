// quadflow benchmarks: the command line of the benchmark programs that are not Google Benchmark runs
// (bench_peers, model_work): CLI11 flags, and exit codes as the quadflow tool gives them.
#pragma once

#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "quadflow/core/error.hpp"

namespace quadflow::bench {

/// Parses argv into `app` (whose callbacks do the work) and returns the exit code: 0, or 2 with one line on stderr
/// for a bad command line or a quadflow::error, or 1 for any other exception. Help exits 0.
inline int run_program(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
        return 0;
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    } catch (const quadflow::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

}  // namespace quadflow::bench
