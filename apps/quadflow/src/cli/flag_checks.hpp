// quadflow CLI: checks of flag values after parsing, and library errors reworded with the flags' names.
#pragma once

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>

#include "quadflow/core/enum_table.hpp"
#include "quadflow/core/error.hpp"

namespace quadflow::cli {

/// A CLI11 check that a value is one of `names`: quadflow::names<E>() of an enum or
/// quadflow::alternative_names<V>() of a variant, so the CLI accepts exactly what the library parses.
template <std::size_t N>
CLI::IsMember one_of(const std::array<std::string_view, N>& names) {
    return CLI::IsMember(std::vector<std::string>(names.begin(), names.end()));
}

/// `--flag = value: must be >= minimum` unless value >= minimum (NaN fails).
template <class T>
void require_at_least(const std::string& flag, T value, T minimum) {
    require(value >= minimum, flag, value, "must be >= " + detail::to_text(minimum));
}

/// A seed in [0, 2^64 - 1], written in decimal; anything else (a sign, overflow, trailing text) is an error.
inline std::uint64_t parse_seed(const std::string& flag, const std::string& text) {
    std::uint64_t seed = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, failure] = std::from_chars(text.data(), end, seed);
    require(!text.empty() && failure == std::errc{} && ptr == end, flag, text,
            "must be an integer in [0, " + std::to_string(std::numeric_limits<std::uint64_t>::max()) + "]");
    return seed;
}

/// An integer flag's value in [lowest, highest], written in decimal: anything else (overflow, a fraction, text) is
/// `flag = text: must be an integer in [lowest, highest]`, the one limit --help states.
template <class T>
T parse_bounded(const std::string& flag, const std::string& text, T lowest, T highest) {
    long long value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, failure] = std::from_chars(text.data(), end, value);
    require(!text.empty() && failure == std::errc{} && ptr == end && value >= static_cast<long long>(lowest) &&
                value <= static_cast<long long>(highest),
            flag, text, "must be an integer in [" + std::to_string(lowest) + ", " + std::to_string(highest) + "]");
    return static_cast<T>(value);
}

/// An integer flag bounded to [lowest, highest], its range stated in --help.
template <class T>
CLI::Option* add_bounded_option(CLI::App& cmd, const std::string& names, T& value, T lowest, T highest,
                                const std::string& description) {
    const std::string flag = names.substr(0, names.find(','));
    return cmd
        .add_option_function<std::string>(
            names,
            [&value, flag, lowest, highest](const std::string& text) {
                value = parse_bounded(flag, text, lowest, highest);
            },
            description + " (" + std::to_string(lowest) + ".." + std::to_string(highest) + ")")
        ->type_name("INT")
        ->default_str(std::to_string(value));
}

/// Most sampling steps a command accepts.
inline constexpr int max_cli_steps = 10000;

/// `--seed`, parsed by parse_seed.
inline CLI::Option* add_seed_option(CLI::App& cmd, std::uint64_t& seed, const std::string& description) {
    return cmd
        .add_option_function<std::string>(
            "--seed", [&seed](const std::string& text) { seed = parse_seed("--seed", text); }, description)
        ->type_name("UINT64")
        ->default_str(std::to_string(seed));
}

/// Image outputs are PNG or JPEG, chosen by the extension.
inline void require_image_extension(const std::string& flag, const std::string& path) {
    std::string lower = path;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const bool known = lower.ends_with(".png") || lower.ends_with(".jpg") || lower.ends_with(".jpeg");
    require(known, flag, path, "must end in .png, .jpg or .jpeg");
}

/// The quadtree_options fields and the flags that set them.
inline const std::map<std::string, std::string>& quadtree_flag_names() {
    static const std::map<std::string, std::string> flags{{"content_threshold", "--threshold"},
                                                          {"min_tile_size", "--min-tile"},
                                                          {"max_tile_size", "--max-tile"},
                                                          {"max_depth", "--max-depth"},
                                                          {"align", "--align"},
                                                          {"min_strength", "--min-strength"},
                                                          {"max_strength", "--max-strength"},
                                                          {"overlap_pixels", "--overlap"},
                                                          {"latent_scale", "--latent-scale"},
                                                          {"max_pixels", "--max-pixels"}};
    return flags;
}

/// `text` with every whole-word option name replaced by its flag ("max_strength" -> "--max-strength").
inline std::string with_flags(std::string text, const std::map<std::string, std::string>& flag_of_option) {
    auto is_word = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; };
    for (const auto& [option, flag] : flag_of_option) {
        for (std::size_t at = text.find(option); at != std::string::npos; at = text.find(option, at)) {
            const std::size_t end = at + option.size();
            if ((at > 0 && is_word(text[at - 1])) || (end < text.size() && is_word(text[end]))) {
                at = end;
                continue;
            }
            text.replace(at, option.size(), flag);
            at += flag.size();
        }
    }
    return text;
}

/// Runs `check`; an invalid_argument about a library option is rethrown naming the CLI flags instead.
template <class Check>
void with_flag_names(const std::map<std::string, std::string>& flag_of_option, Check check) {
    try {
        check();
    } catch (const invalid_argument& e) {
        const auto flag = flag_of_option.find(e.parameter());
        if (flag == flag_of_option.end()) throw;
        const std::string prefix = e.parameter() + " = " + e.value() + ": ";
        const std::string message = e.what();
        const std::string requirement = message.starts_with(prefix) ? message.substr(prefix.size()) : message;
        throw invalid_argument(flag->second, e.value(), with_flags(requirement, flag_of_option));
    }
}

/// Runs `action`; an io_error is rethrown with the flag that named the file in front.
template <class Action>
auto with_flag_name(const std::string& flag, Action action) {
    try {
        return action();
    } catch (const io_error& e) {
        throw io_error(flag + ": " + e.what());
    }
}

}  // namespace quadflow::cli
