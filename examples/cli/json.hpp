// quadflow CLI: a minimal JSON writer (numbers in shortest round-trip form).
#pragma once

#include <charconv>
#include <cmath>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace quadflow::cli {

template <class T>
std::string shortest(T value) {
    if (!std::isfinite(value)) return "null";
    char buffer[64];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

inline std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char ch : text) {
        if (ch == '"' || ch == '\\') out += '\\';
        if (ch == '\n') {
            out += "\\n";
            continue;
        }
        out += ch;
    }
    return out + "\"";
}

template <class T>
std::string array(std::span<const T> values) {
    std::string out = "[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ", ";
        out += shortest(values[i]);
    }
    return out + "]";
}

}  // namespace quadflow::cli
