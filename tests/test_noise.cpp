// Tests of torch-compatible CPU noise: bit-exact torch.randn values, the generator, and bad input.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "quadflow/noise/torch_randn.hpp"

#include "golden/torch_randn_golden.inc"

using namespace quadflow;

namespace {

std::uint32_t bits_of(float value) { return std::bit_cast<std::uint32_t>(value); }

}  // namespace

TEST_CASE("torch_randn reproduces torch bit for bit, for every golden case") {
    std::int64_t values_checked = 0;
    for (const torch_randn_golden_case& golden : torch_randn_golden_cases) {
        const host_tensor noise = noise::torch_randn(golden.seed, golden.shape);
        REQUIRE(noise.shape() == golden.shape);
        std::vector<float> from_span(static_cast<std::size_t>(golden.shape.numel()));
        noise::torch_randn(golden.seed, from_span);
        for (std::size_t i = 0; i < golden.values.size(); ++i) {
            const std::size_t index = golden.indices.empty() ? i : static_cast<std::size_t>(golden.indices[i]);
            const std::uint32_t expected = bits_of(golden.values[i]);
            const std::uint32_t from_tensor = bits_of(noise.span()[index]);
            const std::uint32_t from_span_overload = bits_of(from_span[index]);
            if (from_tensor != expected || from_span_overload != expected) {
                INFO(golden.source, " seed ", golden.seed, " shape ", to_string(golden.shape), " index ", index);
                CHECK(from_tensor == expected);
                CHECK(from_span_overload == expected);
            }
            ++values_checked;
        }
    }
    MESSAGE("values compared bitwise with torch: ", values_checked);
    CHECK(values_checked > 38000);
}

TEST_CASE("only the low 32 bits of the seed matter, as in torch") {
    for (const std::int64_t count : {1, 2, 7, 16, 1000, 4101}) {
        std::vector<float> high_seed(static_cast<std::size_t>(count)), low_seed(static_cast<std::size_t>(count));
        noise::torch_randn((std::uint64_t{1} << 32) + 5, high_seed);
        noise::torch_randn(5, low_seed);
        for (std::size_t i = 0; i < high_seed.size(); ++i) REQUIRE(bits_of(high_seed[i]) == bits_of(low_seed[i]));
    }
}

TEST_CASE("the generator is the standard mt19937 and makes torch's 64-bit draws and uniforms") {
    for (const std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{42}, (std::uint64_t{1} << 63) - 1}) {
        noise::mt19937_torch generator(seed);
        std::mt19937 standard(static_cast<std::uint32_t>(seed));
        for (int i = 0; i < 2000; ++i) REQUIRE(generator.next_u32() == standard());
        const std::uint64_t high = standard(), low = standard();
        CHECK(generator.next_u64() == ((high << 32) | low));
        CHECK(generator.next_float_uniform() == static_cast<float>(standard() & 0xffffffU) / 16777216.0f);
    }
    noise::mt19937_torch reseeded(1);
    reseeded.next_u32();
    reseeded.seed(1);
    CHECK(reseeded.next_u32() == std::mt19937(1)());

    noise::mt19937_torch one_by_one(9), in_bulk(9);
    std::vector<float> bulk(1500);
    in_bulk.next_u32();
    one_by_one.next_u32();
    in_bulk.fill_float_uniform(bulk);
    for (const float value : bulk) REQUIRE(bits_of(value) == bits_of(one_by_one.next_float_uniform()));
}

TEST_CASE("the double multiply-add gives the polynomials' exact results for every uniform Box-Muller can draw") {
    // Box-Muller feeds cephes_log 1 - u and cephes_sincos 2 pi u for the 2^24 uniforms u = k * 2^-24.
    const float two_pi = static_cast<float>(2.0 * 3.14159265358979323846);
    std::int64_t mismatches = 0;
    for (std::uint32_t k = 0; k < (std::uint32_t{1} << 24); ++k) {
        const float uniform = static_cast<float>(k) * 0x1p-24f;
        const float log_in_double = noise::detail::cephes_log<noise::detail::double_multiply_add>(1.0f - uniform);
        const float log_exact = noise::detail::cephes_log<noise::detail::exact_multiply_add>(1.0f - uniform);
        float sine_in_double = 0, cosine_in_double = 0, sine_exact = 0, cosine_exact = 0;
        noise::detail::cephes_sincos<noise::detail::double_multiply_add>(two_pi * uniform, sine_in_double,
                                                                         cosine_in_double);
        noise::detail::cephes_sincos<noise::detail::exact_multiply_add>(two_pi * uniform, sine_exact, cosine_exact);
        mismatches += bits_of(log_in_double) != bits_of(log_exact);
        mismatches += bits_of(sine_in_double) != bits_of(sine_exact);
        mismatches += bits_of(cosine_in_double) != bits_of(cosine_exact);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("empty shapes give empty noise and negative extents are rejected") {
    CHECK(noise::torch_randn(3, shape4{0, 4, 8, 8}).numel() == 0);
    std::vector<float> nothing;
    CHECK_NOTHROW(noise::torch_randn(3, std::span<float>(nothing)));
    CHECK_THROWS_WITH_AS(noise::torch_randn(3, shape4{1, -4, 8, 8}),
                         doctest::Contains("torch_randn.shape = [1, -4, 8, 8]"), invalid_argument);
    CHECK_THROWS_WITH_AS(noise::torch_randn(3, shape4{-1, 4, -8, 8}), doctest::Contains("torch_randn.shape"),
                         invalid_argument);
}

TEST_CASE("the portable and the dispatched Box-Muller give the same bits") {
    // torch_randn picks the x86-64-v3 version (fma) where the CPU has it and the build dispatches, the portable one
    // (double multiply-adds without FMA) elsewhere; the golden cases above check whichever runs here.
    std::vector<float> uniforms(16 * 20000);
    noise::mt19937_torch generator(7);
    generator.fill_float_uniform(uniforms);
    uniforms[3] = 0.0f;  // the edges of the uniform range
    uniforms[11] = 1.0f - 0x1p-24f;
    std::vector<float> portable = uniforms, dispatched = uniforms;
    noise::detail::box_muller_groups_portable(portable.data(), portable.size() / 16);
    noise::detail::box_muller_groups(dispatched.data(), dispatched.size() / 16);
    CAPTURE(cpu_has_x86_64_v3());
    std::size_t differing = 0;
    for (std::size_t i = 0; i < portable.size(); ++i)
        differing += std::bit_cast<std::uint32_t>(portable[i]) != std::bit_cast<std::uint32_t>(dispatched[i]);
    CHECK(differing == 0);
}
