// quadflow error hierarchy: every bad input becomes an exception naming the parameter and value.
#pragma once

#include <charconv>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace quadflow {

/// Base class of every exception the library throws.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A parameter has a value outside its domain (steps <= 0, strength > 1, NaN, ...).
class invalid_argument : public error {
public:
    invalid_argument(std::string_view parameter, std::string_view value, std::string_view requirement)
        : error(std::string(parameter) + " = " + std::string(value) + ": " + std::string(requirement)),
          parameter_(parameter), value_(value) {}
    const std::string& parameter() const noexcept { return parameter_; }
    const std::string& value() const noexcept { return value_; }

private:
    std::string parameter_;
    std::string value_;
};

/// Tensor shapes or strides that do not match what an operation needs.
class shape_error : public error {
public:
    using error::error;
};

/// A model callback produced something unusable (NaN/Inf, wrong shape) or threw.
class model_error : public error {
public:
    using error::error;
};

/// An image or file could not be read or written.
class io_error : public error {
public:
    using error::error;
};

/// A CUDA runtime call failed.
class cuda_error : public error {
public:
    using error::error;
};

namespace detail {
/// A value as text; floating-point numbers in their shortest round-trip form (0.7, not 0.69999...).
template <class T>
std::string to_text(const T& value) {
    if constexpr (std::is_floating_point_v<T>) {
        char buffer[64];
        const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
        return std::string(buffer, result.ptr);
    } else {
        std::ostringstream os;
        os << value;
        return os.str();
    }
}
}  // namespace detail

/// Throws invalid_argument unless `ok`; the message is "parameter = value: requirement".
template <class T>
void require(bool ok, std::string_view parameter, const T& value, std::string_view requirement) {
    if (!ok) throw invalid_argument(parameter, detail::to_text(value), requirement);
}

}  // namespace quadflow
