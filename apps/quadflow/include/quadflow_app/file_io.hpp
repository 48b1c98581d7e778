// quadflow app: writing whole files, and the one wording of a failed write ("cannot write '<path>': <reason>").
#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "quadflow/core/error.hpp"

namespace quadflow::app {

/// The io_error of every failed write: "cannot write '<path>': <reason>".
inline io_error cannot_write(std::string_view path, std::string_view reason) {
    return io_error("cannot write '" + std::string(path) + "': " + std::string(reason));
}

/// The reason of the last failed C or C++ library call: strerror(errno), or strerror(EIO) when errno is 0.
inline std::string last_system_error() { return std::strerror(errno ? errno : EIO); }

/// Writes `bytes` to `path`, replacing the file; throws cannot_write(path, reason) on failure.
inline void write_file(const std::string& path, std::string_view bytes) {
    errno = 0;
    std::ofstream file(path, std::ios::binary);
    if (file) file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!file || !file.flush()) throw cannot_write(path, last_system_error());
}

}  // namespace quadflow::app
