// quadflow version: the single source of the library's version (CMake reads it from here).
#pragma once

#define QUADFLOW_VERSION_MAJOR 0
#define QUADFLOW_VERSION_MINOR 1
#define QUADFLOW_VERSION_PATCH 0
#define QUADFLOW_VERSION_STRING "0.1.0"

namespace quadflow {
inline constexpr int version_major = QUADFLOW_VERSION_MAJOR;
inline constexpr int version_minor = QUADFLOW_VERSION_MINOR;
inline constexpr int version_patch = QUADFLOW_VERSION_PATCH;
}  // namespace quadflow
