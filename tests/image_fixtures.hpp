// Test fixtures for images: deterministic pseudo-random bytes.
#pragma once

#include <cstdint>

namespace fixtures {

/// A pseudo-random byte per (cell, channel).
inline std::uint8_t hashed_byte(std::uint32_t cell, std::uint32_t channel) {
    std::uint32_t h = cell * 0x9E3779B1u + channel * 0x85EBCA77u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    return static_cast<std::uint8_t>(h >> 8);
}

}  // namespace fixtures
