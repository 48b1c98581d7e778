// Tests of tensor views, the owning host tensor and its memory, rectangles and reflection.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"

using namespace quadflow;

TEST_CASE("views index NCHW with strides and convert to const") {
    host_tensor t(shape4{2, 3, 4, 5});
    for (std::int64_t i = 0; i < t.numel(); ++i) t.span()[i] = float(i);
    mutable_view v = t.view();
    CHECK(v.is_contiguous());
    CHECK(v(1, 2, 3, 4) == float(t.numel() - 1));
    CHECK(v(1, 0, 0, 0) == 60.0f);
    const_view cv = v;
    CHECK(cv(0, 1, 2, 3) == float(20 + 10 + 3));
    // A strided view of channel 1 of every image.
    const_view channel(t.data() + 20, shape4{2, 1, 4, 5}, strides4{60, 20, 5, 1});
    CHECK_FALSE(channel.is_contiguous());
    CHECK(channel(1, 0, 0, 0) == 80.0f);
    CHECK_THROWS_AS(channel.span(), shape_error);
}

TEST_CASE("bad views get clear errors") {
    CHECK_THROWS_WITH_AS(const_view(nullptr, shape4{1, 1, 2, 2}), doctest::Contains("tensor_view.data = nullptr"),
                         invalid_argument);
    float one = 0;
    CHECK_THROWS_WITH_AS(const_view(&one, shape4{1, -1, 2, 2}), doctest::Contains("tensor_view.shape = [1, -1, 2, 2]"),
                         invalid_argument);
    CHECK_NOTHROW(const_view(nullptr, shape4{0, 4, 2, 2}));
    CHECK_THROWS_WITH_AS(host_tensor(shape4{1, 1, 2, 2}, std::vector<float>{1, 2, 3}),
                         doctest::Contains("3 values do not fill shape [1, 1, 2, 2]"), shape_error);
    const_view device(&one, shape4{1, 1, 1, 1}, memory_space::device);
    CHECK_THROWS_WITH_AS(require_host(device, "latent"), doctest::Contains("latent is a device view"), shape_error);
}

TEST_CASE("a rectangle clipped to the canvas keeps the part inside, or nothing") {
    static_assert(clipped(rect{-3, 2, 10, 4}, 5, 5) == rect{0, 2, 5, 3});
    CHECK(clipped(rect{1, 1, 2, 2}, 8, 8) == rect{1, 1, 2, 2});
    CHECK(clipped(rect{-4, -4, 20, 20}, 8, 6) == rect{0, 0, 8, 6});
    CHECK(clipped(rect{9, 0, 3, 3}, 8, 8).area() == 0);
    CHECK(clipped(rect{-5, -5, 3, 3}, 8, 8).area() == 0);
}

TEST_CASE("reflection mirrors without repeating the edge, for any offset") {
    CHECK(reflect_index(-1, 5) == 1);
    CHECK(reflect_index(-2, 5) == 2);
    CHECK(reflect_index(5, 5) == 3);
    CHECK(reflect_index(6, 5) == 2);
    CHECK(reflect_index(0, 1) == 0);
    CHECK(reflect_index(-7, 1) == 0);
    for (std::int64_t n : {2, 3, 7})
        for (std::int64_t i = -40; i < 40; ++i) {
            const auto r = reflect_index(i, n);
            CHECK(r >= 0);
            CHECK(r < n);
            if (i >= 0 && i < n) CHECK(r == i);
        }
    CHECK(rect{1, 2, 3, 4}.area() == 12);
    CHECK(rect{1, 2, 3, 4}.contains(3, 5));
    CHECK_FALSE(rect{1, 2, 3, 4}.contains(4, 5));
}

namespace {
/// The VmFlags line of the /proc/self/smaps mapping that holds `p` (empty where there is none).
std::string vm_flags_of(const void* p) {
    std::ifstream smaps("/proc/self/smaps");
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        unsigned long long begin = 0, end = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx ", &begin, &end) == 2 && line.find('-') < line.find(' '))
            inside = address >= begin && address < end;
        else if (inside && line.rfind("VmFlags:", 0) == 0)
            return line;
    }
    return {};
}
}  // namespace

TEST_CASE("host memory: buffers of 2 MiB and more start on a 2 MiB boundary, advised for huge pages") {
    SUBCASE("small buffers are 64-byte aligned") {
        host_memory_allocator<float> allocator;
        for (std::size_t n : {std::size_t{1}, std::size_t{1000}, (huge_page_bytes / 4) - 1}) {
            float* p = allocator.allocate(n);
            CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
            p[0] = 1.0f;
            p[n - 1] = 2.0f;
            allocator.deallocate(p, n);
        }
    }
    SUBCASE("a host tensor of 16 MiB") {
        host_tensor t(shape4{1, 16, 512, 512}, 0.5f);
        CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % huge_page_bytes == 0);
        CHECK(t(0, 15, 511, 511) == 0.5f);
#if defined(__linux__)
        if (std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled")) {
            const std::string flags = vm_flags_of(t.data());
            CAPTURE(flags);
            CHECK(flags.find(" hg") != std::string::npos);  // MADV_HUGEPAGE took
        }
#endif
    }
    SUBCASE("an uninitialized tensor has its shape; a filled one its value even in reused memory") {
        for (int round = 0; round < 3; ++round) {
            host_tensor scratch = host_tensor::uninitialized(shape4{1, 4, 256, 512});
            CHECK(scratch.shape() == shape4{1, 4, 256, 512});
            CHECK(scratch.span().size() == 4u * 256u * 512u);
            std::fill(scratch.span().begin(), scratch.span().end(), 7.0f);
        }
        const host_tensor zeros(shape4{1, 4, 256, 512});
        CHECK(std::all_of(zeros.span().begin(), zeros.span().end(), [](float v) { return v == 0.0f; }));
        const host_tensor threes(shape4{1, 4, 256, 512}, 3.0f);
        CHECK(std::all_of(threes.span().begin(), threes.span().end(), [](float v) { return v == 3.0f; }));
    }
    SUBCASE("sizes whose byte count overflows are refused") {
        host_memory_allocator<float> allocator;
        CHECK_THROWS_AS(allocator.allocate(std::numeric_limits<std::size_t>::max() / 2), std::bad_array_new_length);
    }
}

namespace {
template <class T>
concept hands_out_its_buffer = requires(T& t) {
    t.values();
};
}  // namespace

TEST_CASE("a host tensor hands out its values as a fixed-size span, never as a resizable buffer") {
    // A resize of a handed-out std::vector would desynchronise the shape from the storage.
    static_assert(!hands_out_its_buffer<host_tensor>);
    static_assert(std::is_same_v<decltype(std::declval<host_tensor&>().span()), std::span<float>>);
    host_tensor t(shape4{1, 2, 3, 4}, 1.5f);
    CHECK(t.span().size() == static_cast<std::size_t>(t.numel()));
}
