// quadflow noise: bit-exact torch.manual_seed(seed); torch.randn(shape) as torch computes it on x86 CPUs.
#pragma once

// Which torch computation this reproduces (checked against torch 1.13 and 2.15 on an x86 CPU):
//  * numel >= 16: the CPU_CAPABILITY_AVX2 kernel normal_fill_16_AVX2 (ATen/native/cpu/DistributionTemplates.h)
//    with log256_ps and sincos256_ps from ATen/native/cpu/avx_mathfun.h, as built by GCC with -mfma. torch's
//    AVX512 dispatch (the default on AVX-512 machines) gives the same bits. ATEN_CPU_CAPABILITY=default takes
//    a scalar libm kernel that differs in the last bits of about 40% of the values; it is not reproduced.
//  * numel < 16: at::normal_distribution<double> per element (ATen/core/DistributionsHelper.h), the same on
//    every dispatch. It calls log1p, sin and cos in double and rounds the result to float. Any libm within an ulp
//    in double (glibc, for one) gives torch's float, barring a double result within an ulp of a float midpoint.
//
// The result is the same whatever the compiler flags (-O0 to -O3, with or without -mfma or -march=native, GCC
// or clang), except -ffast-math and its parts. torch's build fuses some multiply-adds (GCC's default
// -ffp-contract=fast). Here each pair torch fuses is an explicit fused multiply-add (detail::cephes_log and
// detail::cephes_sincos list them), and every other product feeds only a multiplication, a conversion or an
// explicit fused multiply-add, so a compiler's own contraction has nothing to change. The exceptions give the same
// bits fused or not: radius * cosine + 0 (fma(a, b, +0) is round(a * b) + 0), and the double multiply-add's
// double(a) * double(b) + double(c) (the product is exact in double).

#include <algorithm>
#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "quadflow/core/config.hpp"
#include "quadflow/core/tensor.hpp"

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD > 0
#error "quadflow/noise/torch_randn.hpp needs float arithmetic done in float (SSE2 or better, not the x87 FPU)"
#endif

namespace quadflow::noise {

/// torch's CPU generator (at::mt19937 inside CPUGeneratorImpl): the standard 32-bit Mersenne Twister, seeded
/// with the low 32 bits of the seed by the standard initialisation.
class mt19937_torch {
public:
    /// torch's default CPU seed (c10::detail::default_rng_seed_val).
    static constexpr std::uint64_t default_seed = 67280421310721ULL;

    explicit mt19937_torch(std::uint64_t seed_value = default_seed) { seed(seed_value); }

    void seed(std::uint64_t seed_value) {
        state_[0] = static_cast<std::uint32_t>(seed_value);
        for (std::uint32_t i = 1; i < state_size; ++i)
            state_[i] = 1812433253U * (state_[i - 1] ^ (state_[i - 1] >> 30)) + i;
        next_index_ = state_size;
    }

    std::uint32_t next_u32() {
        if (next_index_ == state_size) regenerate();
        return temper(state_[next_index_++]);
    }

    /// CPUGeneratorImpl::random64: two 32-bit draws, the first one the high half.
    std::uint64_t next_u64() {
        const std::uint64_t high = next_u32();
        const std::uint64_t low = next_u32();
        return (high << 32) | low;
    }

    /// at::uniform_real_distribution<float>(0, 1): the low 24 bits of a 32-bit draw times 2^-24.
    float next_float_uniform() { return float_uniform_from(next_u32()); }

    /// at::uniform_real_distribution<double>(0, 1): the low 53 bits of a 64-bit draw times 2^-53.
    double next_double_uniform() { return static_cast<double>(next_u64() & ((std::uint64_t{1} << 53) - 1)) * 0x1p-53; }

    /// Fills `out` with next_float_uniform() values, in order.
    QUADFLOW_CPU_DISPATCH void fill_float_uniform(std::span<float> out) {
        std::size_t filled = 0;
        while (filled < out.size()) {
            if (next_index_ == state_size) regenerate();
            const std::size_t count = std::min(out.size() - filled, state_size - next_index_);
            for (std::size_t i = 0; i < count; ++i)
                out[filled + i] = float_uniform_from(temper(state_[next_index_ + i]));
            next_index_ += count;
            filled += count;
        }
    }

private:
    static constexpr std::size_t state_size = 624;
    static constexpr std::size_t shift_size = 397;

    static float float_uniform_from(std::uint32_t draw) {
        return static_cast<float>(draw & ((std::uint32_t{1} << 24) - 1)) * 0x1p-24f;
    }

    static std::uint32_t temper(std::uint32_t y) {
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680U;
        y ^= (y << 15) & 0xefc60000U;
        y ^= y >> 18;
        return y;
    }

    static std::uint32_t twist(std::uint32_t current, std::uint32_t next, std::uint32_t shifted) {
        const std::uint32_t mixed = (current & 0x80000000U) | (next & 0x7fffffffU);
        return shifted ^ (mixed >> 1) ^ ((mixed & 1U) ? 0x9908b0dfU : 0U);
    }

    void regenerate() {
        for (std::size_t i = 0; i < state_size - shift_size; ++i)
            state_[i] = twist(state_[i], state_[i + 1], state_[i + shift_size]);
        for (std::size_t i = state_size - shift_size; i < state_size - 1; ++i)
            state_[i] = twist(state_[i], state_[i + 1], state_[i + shift_size - state_size]);
        state_[state_size - 1] = twist(state_[state_size - 1], state_[0], state_[shift_size - 1]);
        next_index_ = 0;
    }

    std::array<std::uint32_t, state_size> state_{};
    std::size_t next_index_ = state_size;
};

namespace detail {

/// condition ? if_true : if_false with bit masks, as torch's vector code selects; a compiler vectorises it.
inline float select(bool condition, float if_true, float if_false) {
    const std::uint32_t mask = std::uint32_t{0} - static_cast<std::uint32_t>(condition);
    return std::bit_cast<float>((std::bit_cast<std::uint32_t>(if_true) & mask) |
                                (std::bit_cast<std::uint32_t>(if_false) & ~mask));
}

/// a * b + c rounded once, as torch's fused multiply-adds are.
struct exact_multiply_add {
    float operator()(float a, float b, float c) const { return std::fma(a, b, c); }
};

/// a * b + c in double, rounded to float. The product of two floats is exact in double, so only the sum rounds
/// before the final rounding to float. That double rounding can differ from a single one only when a * b + c
/// lies within 2^-53 (relative) of a float midpoint; for all 2^24 inputs that Box-Muller gives cephes_log and
/// cephes_sincos, it gives the same results as exact_multiply_add (tests/test_noise.cpp checks every one).
struct double_multiply_add {
    float operator()(float a, float b, float c) const {
        return static_cast<float>(static_cast<double>(a) * static_cast<double>(b) + static_cast<double>(c));
    }
};

/// The fma instruction where the target has one; elsewhere the library call would be slow and defeat
/// vectorisation, so the double form is used.
#if defined(__FMA__) || defined(FP_FAST_FMAF) || defined(__aarch64__) || defined(__ARM_FEATURE_FMA)
using default_multiply_add = exact_multiply_add;
#else
using default_multiply_add = double_multiply_add;
#endif

// Cephes coefficients as avx_mathfun.h spells them.
inline constexpr float cephes_sqrt_half = 0.707106781186547524f;
inline constexpr std::array<float, 9> cephes_log_coefficients = {
    7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,  -1.2420140846E-1f, 1.4249322787E-1f,
    -1.6668057665E-1f, 2.0000714765E-1f,  -2.4999993993E-1f, 3.3333331174E-1f};
inline constexpr float cephes_log_q1 = -2.12194440e-4f;
inline constexpr float cephes_log_q2 = 0.693359375f;
inline constexpr float cephes_minus_dp1 = -0.78515625f;
inline constexpr float cephes_minus_dp2 = -2.4187564849853515625e-4f;
inline constexpr float cephes_minus_dp3 = -3.77489497744594108e-8f;
inline constexpr float cephes_four_over_pi = 1.27323954473516f;
inline constexpr std::array<float, 3> cephes_sin_coefficients = {-1.9515295891E-4f, 8.3321608736E-3f,
                                                                 -1.6666654611E-1f};
inline constexpr std::array<float, 3> cephes_cos_coefficients = {2.443315711809948E-005f, -1.388731625493765E-003f,
                                                                 4.166664568298827E-002f};

/// log256_ps for one lane, for normal x > 0 (Box-Muller gives x in [2^-24, 1], so the clamp of subnormal x
/// to the smallest normal float is left out). The multiply-adds that torch's binary fuses, found by comparing
/// with torch: every step of the polynomial, y*z + e*q1 and e*q2 + x. z*0.5 is exact, so y - z*0.5 is written
/// fused too.
template <class MultiplyAdd = default_multiply_add>
inline float cephes_log(float x) {
    constexpr MultiplyAdd fused_multiply_add{};
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
    float exponent = static_cast<float>(static_cast<std::int32_t>(bits >> 23) - 0x7f) + 1.0f;
    x = std::bit_cast<float>((bits & ~0x7f800000U) | 0x3f000000U);  // mantissa scaled into [0.5, 1)
    const bool below_sqrt_half = x < cephes_sqrt_half;
    const float doubled_part = select(below_sqrt_half, x, 0.0f);
    x = x - 1.0f;
    exponent = exponent - select(below_sqrt_half, 1.0f, 0.0f);
    x = x + doubled_part;

    const float z = x * x;
    float y = cephes_log_coefficients[0];
    for (std::size_t i = 1; i < cephes_log_coefficients.size(); ++i)
        y = fused_multiply_add(y, x, cephes_log_coefficients[i]);
    y = y * x;
    y = fused_multiply_add(y, z, exponent * cephes_log_q1);
    y = fused_multiply_add(z, -0.5f, y);
    return fused_multiply_add(exponent, cephes_log_q2, x + y);
}

/// sincos256_ps for one lane. Fused in torch's binary: the three range-reduction steps, every polynomial step,
/// the cosine's last y*z with the subtraction of z*0.5, and the sine's last y*x with the addition of x.
template <class MultiplyAdd = default_multiply_add>
inline void cephes_sincos(float x, float& sine, float& cosine) {
    constexpr MultiplyAdd fused_multiply_add{};
    std::uint32_t sine_sign = std::bit_cast<std::uint32_t>(x) & 0x80000000U;
    x = std::fabs(x);
    const std::int32_t octant = (static_cast<std::int32_t>(x * cephes_four_over_pi) + 1) & ~1;
    const float octant_float = static_cast<float>(octant);
    sine_sign ^= static_cast<std::uint32_t>(octant & 4) << 29;
    const std::uint32_t cosine_sign = static_cast<std::uint32_t>(~(octant - 2) & 4) << 29;
    const bool sine_uses_sine_polynomial = (octant & 2) == 0;

    x = fused_multiply_add(octant_float, cephes_minus_dp1, x);
    x = fused_multiply_add(octant_float, cephes_minus_dp2, x);
    x = fused_multiply_add(octant_float, cephes_minus_dp3, x);
    const float z = x * x;

    float cosine_poly = fused_multiply_add(cephes_cos_coefficients[0], z, cephes_cos_coefficients[1]);
    cosine_poly = fused_multiply_add(cosine_poly, z, cephes_cos_coefficients[2]);
    cosine_poly = cosine_poly * z;
    cosine_poly = fused_multiply_add(cosine_poly, z, -0.5f * z) + 1.0f;

    float sine_poly = fused_multiply_add(cephes_sin_coefficients[0], z, cephes_sin_coefficients[1]);
    sine_poly = fused_multiply_add(sine_poly, z, cephes_sin_coefficients[2]);
    sine_poly = sine_poly * z;
    sine_poly = fused_multiply_add(sine_poly, x, x);

    // torch selects with masks and adds +0.0f, which turns a -0 into +0.
    const float sine_magnitude = select(sine_uses_sine_polynomial, sine_poly, cosine_poly) + 0.0f;
    const float cosine_magnitude = select(sine_uses_sine_polynomial, cosine_poly, sine_poly) + 0.0f;
    sine = std::bit_cast<float>(std::bit_cast<std::uint32_t>(sine_magnitude) ^ sine_sign);
    cosine = std::bit_cast<float>(std::bit_cast<std::uint32_t>(cosine_magnitude) ^ cosine_sign);
}

/// normal_fill_16_AVX2 with mean 0 and std 1: Box-Muller over the pairs (j, j + 8) of 16 uniforms.
/// The loops are separate so that a compiler can vectorise all but the one holding sqrt, whose errno check
/// is a branch.
template <class MultiplyAdd = default_multiply_add>
inline void box_muller_16(float* values) {
    const float two_pi = static_cast<float>(2.0 * 3.14159265358979323846);
    std::array<float, 8> radius{}, sine{}, cosine{};
    for (std::size_t lane = 0; lane < 8; ++lane) radius[lane] = -2.0f * cephes_log<MultiplyAdd>(1.0f - values[lane]);
    for (std::size_t lane = 0; lane < 8; ++lane) radius[lane] = std::sqrt(radius[lane]);
    for (std::size_t lane = 0; lane < 8; ++lane)
        cephes_sincos<MultiplyAdd>(two_pi * values[lane + 8], sine[lane], cosine[lane]);
    // torch stores fma(n, std = 1, mean = 0): n + 0.0f, which only turns -0 into +0.
    for (std::size_t lane = 0; lane < 8; ++lane) {
        values[lane] = radius[lane] * cosine[lane] + 0.0f;
        values[lane + 8] = radius[lane] * sine[lane] + 0.0f;
    }
}

/// box_muller_16 over `groups` consecutive groups of 16 values, built for the compiler's target.
inline void box_muller_groups_portable(float* values, std::size_t groups) {
    for (std::size_t g = 0; g < groups; ++g) box_muller_16(values + 16 * g);
}

#if QUADFLOW_HAS_CPU_DISPATCH
/// The same for x86-64-v3, with the fma instruction (same bits: see double_multiply_add).
QUADFLOW_X86_64_V3 inline void box_muller_groups_x86_64_v3(float* values, std::size_t groups) {
    for (std::size_t g = 0; g < groups; ++g) box_muller_16<exact_multiply_add>(values + 16 * g);
}
#endif

/// box_muller_16 over `groups` groups, with the fastest version the CPU runs.
inline void box_muller_groups(float* values, std::size_t groups) {
#if QUADFLOW_HAS_CPU_DISPATCH
    if (cpu_has_x86_64_v3()) return box_muller_groups_x86_64_v3(values, groups);
#endif
    box_muller_groups_portable(values, groups);
}

/// torch's path for fewer than 16 values: normal_distribution<double>, whose sine half is kept for the next
/// element.
inline void fill_scalar_normal(mt19937_torch& generator, std::span<float> out) {
    const double two_pi = 2.0 * 3.14159265358979323846;
    for (std::size_t i = 0; i < out.size(); i += 2) {
        const double u1 = generator.next_double_uniform();
        const double u2 = generator.next_double_uniform();
        const double radius = std::sqrt(-2.0 * std::log1p(-u2));
        const double theta = two_pi * u1;
        out[i] = static_cast<float>(radius * std::cos(theta) + 0.0);
        if (i + 1 < out.size()) out[i + 1] = static_cast<float>(radius * std::sin(theta) + 0.0);
    }
}

}  // namespace detail

/// Fills `out` with the values of torch.manual_seed(seed); torch.randn(out.size()) (float32, CPU). Only the
/// number of elements matters, not the shape.
inline void torch_randn(std::uint64_t seed, std::span<float> out) {
    mt19937_torch generator(seed);
    const std::size_t count = out.size();
    if (count < 16) {
        detail::fill_scalar_normal(generator, out);
        return;
    }
    generator.fill_float_uniform(out);
    detail::box_muller_groups(out.data(), count / 16);
    if (count % 16 != 0) {
        // torch redraws the last 16 values and transforms them again.
        const std::span<float> last_group = out.last(16);
        generator.fill_float_uniform(last_group);
        detail::box_muller_groups(last_group.data(), 1);
    }
}

/// torch.manual_seed(seed); torch.randn([n, c, h, w]) as a host tensor.
inline host_tensor torch_randn(std::uint64_t seed, shape4 shape) {
    require(shape.n >= 0 && shape.c >= 0 && shape.h >= 0 && shape.w >= 0, "torch_randn.shape", to_string(shape),
            "every extent must be >= 0");
    host_tensor noise = host_tensor::uninitialized(shape);  // every element is written below
    torch_randn(seed, noise.span());
    return noise;
}

}  // namespace quadflow::noise
