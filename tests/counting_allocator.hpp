// Test helper: a replacement operator new that counts allocations, for "allocates nothing per step" tests.
// Include it in exactly one translation unit of a test program. Under nvcc, operator new is host-device, so
// the replacement is compiled in the host pass only.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

static std::atomic<long> allocations{0};
#ifndef __CUDA_ARCH__
void* operator new(std::size_t size) {
    ++allocations;
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif
