// quadflow benchmarks: the command line of the benchmark programs that are not Google Benchmark runs
// (bench_peers, model_work, bench/learned, bench/distributed): CLI11 flags, exit codes as the quadflow tool gives
// them, and the --csv file.
#pragma once

#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

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

/// Adds --csv (`csv_help`) to `app`, makes `measure` its work and runs it: run_program's exit code.
template <class Measure>
int run_measurement(CLI::App& app, std::string& csv, const std::string& csv_help, Measure measure, int argc,
                    char** argv) {
    app.add_option("--csv", csv, csv_help);
    app.callback(measure);
    return run_program(app, argc, argv);
}

/// The --csv file at `path` with its `header` written; a stream that is not open when `path` is empty. Throws
/// io_error when it cannot be written.
inline std::ofstream open_csv(const std::string& path, const std::string& header) {
    std::ofstream csv;
    if (path.empty()) return csv;
    csv.open(path);
    if (!csv) throw io_error("--csv: cannot write '" + path + "'");
    csv << header;
    return csv;
}

}  // namespace quadflow::bench
