// quadflow CLI: JSON documents (nlohmann::ordered_json) printed on one line as `{"key": value, ...}`, numbers in
// shortest round-trip form (1, not 1.0), non-finite numbers as null.
#pragma once

#include <charconv>
#include <cmath>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

namespace quadflow::cli {

using json = nlohmann::ordered_json;

/// The double whose shortest form is the float's, so that a float prints as itself (1.9269153, not
/// 1.9269152879714966).
inline double as_printed(float value) {
    if (!std::isfinite(value)) return value;
    char buffer[32];
    const auto printed = std::to_chars(buffer, buffer + sizeof buffer, value);
    double result = 0.0;
    std::from_chars(buffer, printed.ptr, result);
    return result;
}

inline json number_array(std::span<const float> values) {
    json out = json::array();
    for (float v : values) out.push_back(as_printed(v));
    return out;
}

inline json number_array(std::span<const double> values) { return json(values); }

inline void append_json(std::string& out, const json& value) {
    switch (value.type()) {
        case json::value_t::object: {
            out += '{';
            for (auto it = value.begin(); it != value.end(); ++it) {
                if (it != value.begin()) out += ", ";
                out += json(it.key()).dump();
                out += ": ";
                append_json(out, it.value());
            }
            out += '}';
            return;
        }
        case json::value_t::array:
            out += '[';
            for (std::size_t i = 0; i < value.size(); ++i) {
                if (i) out += ", ";
                append_json(out, value[i]);
            }
            out += ']';
            return;
        case json::value_t::number_float: {
            const double v = value.get<double>();
            if (!std::isfinite(v)) {
                out += "null";
                return;
            }
            char buffer[32];
            out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
            return;
        }
        default:  // strings: bytes that are not UTF-8 become U+FFFD, so that the document stays valid
            out += value.dump(-1, ' ', false, json::error_handler_t::replace);
    }
}

/// `value` as one line of text (no newline).
inline std::string to_text(const json& value) {
    std::string out;
    append_json(out, value);
    return out;
}

}  // namespace quadflow::cli
