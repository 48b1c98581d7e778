// quadflow benchmarks: a main() that runs Google Benchmark with repetitions (randomly interleaved) and prints
// the ratio of each measured benchmark to its baseline, both medians from the same run.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace quadflow::bench {

/// A ratio to print after the run: counter `counter` of `measured` over the same counter of `baseline`.
struct ratio {
    std::string measured;
    std::string baseline;
    std::string counter;  ///< "bytes_per_second", "items_per_second" or a user counter
    std::string goal;     ///< free text, e.g. ">= 0.6"
};

class median_recorder : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        for (const Run& run : runs) {
            if (run.aggregate_name != "median") continue;
            auto& values = medians_[run.run_name.str()];
            for (const auto& [name, counter] : run.counters) values[name] = counter.value;
        }
        ConsoleReporter::ReportRuns(runs);
    }
    double value(const std::string& run, const std::string& counter) const {
        auto r = medians_.find(run);
        if (r == medians_.end()) return 0.0;
        auto c = r->second.find(counter);
        return c == r->second.end() ? 0.0 : c->second;
    }

private:
    std::map<std::string, std::map<std::string, double>> medians_;
};

inline int run_with_ratios(int argc, char** argv, const std::vector<ratio>& ratios) {
    std::vector<char*> args(argv, argv + argc);
    std::string repetitions = "--benchmark_repetitions=5";
    std::string aggregates = "--benchmark_report_aggregates_only=true";
    // Repetitions of different benchmarks run in a random interleaved order, so that a measured benchmark
    // and its baseline see the same spells of load on a shared machine.
    std::string interleave = "--benchmark_enable_random_interleaving=true";
    bool has_repetitions = false, has_interleaving = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg(argv[i]);
        if (arg.rfind("--benchmark_repetitions", 0) == 0) has_repetitions = true;
        if (arg.rfind("--benchmark_enable_random_interleaving", 0) == 0) has_interleaving = true;
    }
    if (!has_repetitions) {
        args.push_back(repetitions.data());
        args.push_back(aggregates.data());
    }
    if (!has_interleaving) args.push_back(interleave.data());
    int count = static_cast<int>(args.size());
    benchmark::Initialize(&count, args.data());
    median_recorder recorder;
    benchmark::RunSpecifiedBenchmarks(&recorder);
    benchmark::Shutdown();
    std::printf("\nratios (medians of the same run):\n");
    for (const ratio& r : ratios) {
        const double m = recorder.value(r.measured, r.counter), b = recorder.value(r.baseline, r.counter);
        if (m == 0.0 || b == 0.0) continue;
        std::printf("  %-48s / %-32s %s: %.3f  (goal %s)\n", r.measured.c_str(), r.baseline.c_str(), r.counter.c_str(),
                    m / b, r.goal.c_str());
    }
    return 0;
}

}  // namespace quadflow::bench
