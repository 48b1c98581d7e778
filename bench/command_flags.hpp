// quadflow benchmarks: `--name value` flags for the benchmark programs that are not Google Benchmark runs
// (bench_peers, model_work), parsed without a dependency.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"

namespace quadflow::bench {

class command_flags {
public:
    /// Reads argv[first], argv[first + 1], ... as `--name value` pairs; every name must be one of `known`.
    command_flags(int argc, char** argv, int first, const std::vector<std::string>& known) {
        for (int i = first; i < argc; i += 2) {
            const std::string flag = argv[i];
            const std::string name = flag.rfind("--", 0) == 0 ? flag.substr(2) : std::string();
            if (name.empty() || std::find(known.begin(), known.end(), name) == known.end()) {
                std::string names;
                for (const std::string& k : known) names += (names.empty() ? "--" : ", --") + k;
                throw invalid_argument(flag, i + 1 < argc ? argv[i + 1] : "", "is not a flag here (flags: " + names + ")");
            }
            if (i + 1 >= argc) throw invalid_argument(flag, "", "needs a value");
            values_[name] = argv[i + 1];
        }
    }

    std::string text(const std::string& name, const std::string& fallback) const {
        const auto found = values_.find(name);
        return found == values_.end() ? fallback : found->second;
    }

    std::int64_t integer(const std::string& name, std::int64_t fallback) const {
        const std::string value = text(name, std::to_string(fallback));
        return parse<std::int64_t>(name, value, [](const std::string& s, std::size_t* used) { return std::stoll(s, used); });
    }

    double number(const std::string& name, double fallback) const {
        std::ostringstream printed;
        printed.precision(17);
        printed << fallback;
        const std::string value = text(name, printed.str());
        return parse<double>(name, value, [](const std::string& s, std::size_t* used) { return std::stod(s, used); });
    }

    /// A comma-separated list of integers, e.g. "1,16,512,512".
    std::vector<std::int64_t> integers(const std::string& name, const std::string& fallback) const {
        std::vector<std::int64_t> values;
        std::stringstream list(text(name, fallback));
        for (std::string part; std::getline(list, part, ',');)
            values.push_back(parse<std::int64_t>(name, part, [](const std::string& s, std::size_t* used) {
                return std::stoll(s, used);
            }));
        return values;
    }

private:
    template <class T, class Parse>
    static T parse(const std::string& name, const std::string& value, Parse parse_text) {
        std::size_t used = 0;
        T result{};
        try {
            result = parse_text(value, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (value.empty() || used != value.size()) throw invalid_argument("--" + name, value, "is not a number");
        return result;
    }

    std::map<std::string, std::string> values_;
};

/// Runs `program` and returns its exit code; a quadflow::error prints one line and gives 2 (bad input), any
/// other exception prints one line and gives 1.
template <class Program>
int run_program(const Program& program) {
    try {
        return program();
    } catch (const quadflow::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

}  // namespace quadflow::bench
