// quadflow host memory: an allocator that backs large float buffers with transparent huge pages where Linux offers
// them.
//
// A latent plane row is a few KiB, so the gather and the blend touch a new 4 KiB page every row or two and
// spend their time in page walks; 2 MiB pages remove most of them. Buffers of 2 MiB or more are aligned to
// 2 MiB and advised MADV_HUGEPAGE before their first touch (Linux's transparent huge pages in "madvise" mode
// then back them with 2 MiB pages; in "always" mode it makes no difference, in "never" mode none). Smaller
// buffers and other systems use plain operator new. Memory you allocate yourself can be advised the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace quadflow {

/// Bytes from which host_memory_allocator asks for huge pages.
inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

template <class T>
struct host_memory_allocator {
    using value_type = T;
    /// Alignment of buffers under huge_page_bytes: a cache line at least.
    static constexpr std::align_val_t small_alignment{alignof(T) < 64 ? 64 : alignof(T)};

    host_memory_allocator() = default;
    template <class U>
    host_memory_allocator(const host_memory_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
        const std::size_t bytes = n * sizeof(T);
        if (bytes < huge_page_bytes) return static_cast<T*>(::operator new(bytes, small_alignment));
        const std::size_t rounded = (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
        void* p = std::aligned_alloc(huge_page_bytes, rounded);
        if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: a refusal leaves 4 KiB pages
#endif
        return static_cast<T*>(p);
    }

    /// Elements made without a value are left uninitialised (default-initialised), so that a buffer about to be
    /// overwritten is not written twice; a value or arguments construct as usual.
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }

    void deallocate(T* p, std::size_t n) noexcept {
        if (n * sizeof(T) < huge_page_bytes)
            ::operator delete(p, small_alignment);
        else
            std::free(p);
    }

    template <class U>
    bool operator==(const host_memory_allocator<U>&) const noexcept {
        return true;
    }
};

}  // namespace quadflow
