// quadflow prefetch: software prefetch of a range of host memory, for strided rows the hardware cannot predict.
#pragma once

#include <cstdint>

namespace quadflow {

enum class prefetch_intent { read, write };

/// Asks the CPU to bring the cache lines of [begin, end) into cache (all levels), for reading or writing.
/// A hint only: no effect on results, none where the compiler has no prefetch builtin.
template <prefetch_intent Intent, class T>
inline void prefetch_range(const T* begin, const T* end) {
#if defined(__GNUC__) || defined(__clang__)
    constexpr std::uintptr_t line = 64;
    const auto last = reinterpret_cast<std::uintptr_t>(end);
    for (auto a = reinterpret_cast<std::uintptr_t>(begin) & ~(line - 1); a < last; a += line)
        __builtin_prefetch(reinterpret_cast<const void*>(a), Intent == prefetch_intent::write ? 1 : 0, 3);
#else
    (void)begin;
    (void)end;
#endif
}

}  // namespace quadflow
