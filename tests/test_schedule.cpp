// quadflow tests: FLUX, diffusers and ComfyUI schedules and img2img strength rules against reference values.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/schedule/schedule.hpp"

namespace {

namespace qs = quadflow::schedule;

// Layouts of the generated golden tables (tests/golden/make_schedule_golden.py).
struct golden_schedule {
    std::string_view name, generator;
    int steps, width, height;
    double mu, shift, alpha, beta, denoise;
    std::vector<double> sigmas;
};
struct golden_strength {
    std::string_view name, rule;
    int steps;
    double strength;
    int width, height;
    std::size_t start;
    std::vector<double> sigmas;
};
struct golden_quantile {
    double q, a, b, x;
};
struct golden_beta_indices {
    int steps;
    double alpha, beta;
    std::vector<int> indices;
};

#include "golden/schedules_golden.inc"

constexpr double tolerance = 1e-6;  // the engines run in float32 (conventions.md)
const double not_a_number = std::numeric_limits<double>::quiet_NaN();
const double infinity = std::numeric_limits<double>::infinity();

std::vector<double> build_golden(const golden_schedule& c) {
    const auto with_denoise = [&](auto make) { return qs::comfy_denoise(make, c.steps, c.denoise); };
    const std::string_view g = c.generator;
    if (g == "flux") return qs::flux(c.steps, c.width, c.height);
    if (g == "flux_mu") return qs::flux_mu_schedule(c.steps, c.mu);
    if (g == "linear") return qs::linear(c.steps);
    if (g == "shifted") return qs::shifted(c.steps, c.shift);
    if (g == "diffusers") return qs::diffusers_flow_match(c.steps, c.shift);
    if (g == "comfy_simple") return with_denoise([&](int n) { return qs::comfy_simple(n, c.mu); });
    if (g == "comfy_beta") return with_denoise([&](int n) { return qs::comfy_beta(n, c.mu, c.alpha, c.beta); });
    FAIL("unknown generator " << g);
    return {};
}

double max_abs_difference(const std::vector<double>& a, const std::vector<double>& b) {
    double worst = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

/// Runs `f`, which must throw quadflow::invalid_argument naming `parameter` with `value` in its message.
template <class F>
void check_invalid(F&& f, std::string_view parameter, std::string_view value) {
    CHECK_THROWS_AS(f(), quadflow::invalid_argument);
    try {
        f();
    } catch (const quadflow::invalid_argument& e) {
        const std::string message = e.what();
        CHECK(e.parameter() == parameter);
        CHECK(e.value() == value);
        CHECK(message.find(parameter) != std::string::npos);
        CHECK(message.find(value) != std::string::npos);
    } catch (...) {
    }
}

}  // namespace

TEST_CASE("every golden schedule is reproduced to 1e-6") {
    double worst = 0.0;
    int checked = 0;
    for (const golden_schedule& c : golden_schedules) {
        CAPTURE(c.name);
        const std::vector<double> sigmas = build_golden(c);
        REQUIRE(sigmas.size() == c.sigmas.size());
        const double difference = max_abs_difference(sigmas, c.sigmas);
        CHECK(difference <= tolerance);
        CHECK(sigmas.back() == 0.0);
        CHECK_NOTHROW(qs::validate_schedule(sigmas));
        worst = std::max(worst, difference);
        ++checked;
    }
    MESSAGE(checked << " golden schedules, max abs error " << worst);
}

TEST_CASE("every golden img2img strength case starts where its engine does") {
    double worst = 0.0;
    for (const golden_strength& c : golden_strengths) {
        CAPTURE(c.name);
        const qs::strength_rule rule = qs::parse_strength_rule(c.rule);
        const std::vector<double> full = qs::flux(c.steps, c.width, c.height);
        CHECK(qs::img2img_start_index(rule, static_cast<std::size_t>(c.steps), c.strength) == c.start);
        const std::vector<double> sigmas = qs::img2img_sigmas(full, c.strength, rule);
        REQUIRE(sigmas.size() == c.sigmas.size());
        const double difference = max_abs_difference(sigmas, c.sigmas);
        CHECK(difference <= tolerance);
        worst = std::max(worst, difference);
    }
    MESSAGE(std::size(golden_strengths) << " golden strength cases, max abs error " << worst);
}

TEST_CASE("beta_quantile matches scipy.stats.beta.ppf") {
    for (const golden_quantile& c : golden_beta_quantiles) {
        CAPTURE(c.q);
        CAPTURE(c.a);
        CAPTURE(c.b);
        const double x = qs::beta_quantile(c.q, c.a, c.b);
        CHECK(std::abs(x - c.x) <= 1e-13 + 1e-11 * c.x);
        CHECK(std::abs(qs::regularized_incomplete_beta(x, c.a, c.b) - c.q) <= 1e-13 + 1e-12 * c.q);
    }
    CHECK(qs::beta_quantile(0.0, 0.6, 0.6) == 0.0);
    CHECK(qs::beta_quantile(1.0, 0.6, 0.6) == 1.0);
    CHECK(qs::beta_quantile(0.5, 0.6, 0.6) == 0.5);
}

TEST_CASE("comfy beta picks the same table indices as ComfyUI with scipy for 1..200 steps") {
    for (const golden_beta_indices& c : golden_beta_index_lists) {
        CAPTURE(c.steps);
        CAPTURE(c.alpha);
        CAPTURE(c.beta);
        CHECK(qs::comfy_beta_table_indices(c.steps, c.alpha, c.beta) == c.indices);
    }
}

TEST_CASE("conventions.md section 3 table: N = 20, strength 0.5, 1024^2") {
    const std::vector<double> full = qs::flux(20, 1024, 1024);

    const std::vector<double> comfy = qs::comfy_denoise([](int n) { return qs::comfy_simple(n); }, 20, 0.5);
    CHECK(comfy.size() == 21);
    CHECK(comfy.front() == doctest::Approx(0.7595109).epsilon(1e-7));

    for (qs::strength_rule rule : {qs::strength_rule::comfy, qs::strength_rule::diffusers, qs::strength_rule::bfl}) {
        CAPTURE(qs::to_string(rule));
        const std::vector<double> sigmas = qs::img2img_sigmas(full, 0.5, rule);
        CHECK(sigmas.size() == 11);
        CHECK(sigmas.front() == doctest::Approx(0.7595109).epsilon(1e-7));
    }
    const std::vector<double> sdcpp = qs::img2img_sigmas(full, 0.5, qs::strength_rule::sdcpp);
    CHECK(sdcpp.size() == 12);
    CHECK(sdcpp.front() == doctest::Approx(0.7942393).epsilon(1e-7));
}

TEST_CASE("img2img rules: engine quirks") {
    SUBCASE("BFL truncates (1 - s) * N in double: s = 0.8, N = 20 gives 3") {
        CHECK(qs::img2img_start_index(qs::strength_rule::bfl, 20, 0.8) == 3);
        CHECK(qs::img2img_start_index(qs::strength_rule::diffusers, 20, 0.8) == 4);
    }
    SUBCASE("stable-diffusion.cpp multiplies in float32") {
        // 100 * 0.53f = 52.99999... in float; in double int(100 * 0.53) is 53.
        CHECK(qs::img2img_start_index(qs::strength_rule::sdcpp, 100, 0.53) == 100 - 52 - 1);
        CHECK(qs::img2img_start_index(qs::strength_rule::sdcpp, 20, 1.0) == 0);
    }
    SUBCASE("strength 0 leaves only sigma 0, strength 1 the whole schedule") {
        const std::vector<double> full = qs::flux(4, 1024, 1024);
        for (qs::strength_rule rule : qs::all_strength_rules) {
            CAPTURE(qs::to_string(rule));
            CHECK(qs::img2img_sigmas(full, 0.0, rule) == std::vector<double>{0.0});
            CHECK(qs::img2img_sigmas(full, 1.0, rule) == full);
        }
    }
    SUBCASE("comfy rule rounds half to even, like Python's round") {
        CHECK(qs::img2img_start_index(qs::strength_rule::comfy, 5, 0.5) == 3);  // round(2.5) = 2
        CHECK(qs::img2img_start_index(qs::strength_rule::comfy, 7, 0.5) == 3);  // round(3.5) = 4
    }
}

TEST_CASE("comfy strength rule equals ComfyUI KSampler(k, denoise = s) whenever int(k / s) == N") {
    int compared = 0;
    for (int n = 1; n <= 60; ++n) {
        const std::vector<double> full = qs::comfy_simple(n);
        for (int percent = 1; percent <= 100; ++percent) {
            const double s = percent / 100.0;
            const int k = static_cast<int>(qs::round_half_to_even(s * n));
            if (k < 1 || static_cast<int>(k / s) != n) continue;
            CAPTURE(n);
            CAPTURE(s);
            const auto ksampler = qs::comfy_denoise([](int m) { return qs::comfy_simple(m); }, k, s);
            CHECK(qs::img2img_sigmas(full, s, qs::strength_rule::comfy) == ksampler);
            ++compared;
        }
    }
    CHECK(compared > 1000);
}

TEST_CASE("shift functions") {
    CHECK(qs::time_shift(1.15, 0.0) == 0.0);
    CHECK(qs::time_shift(1.15, 1.0) == 1.0);
    for (double t : {0.01, 0.25, 0.5, 0.75, 0.99})
        for (double s : {0.5, 1.0, 3.0, 6.0})
            CHECK(qs::static_shift(s, t) == doctest::Approx(qs::time_shift(std::log(s), t)));
    CHECK(qs::static_shift(1.0, 0.3) == doctest::Approx(0.3));
    CHECK(qs::flux_mu(1024, 1024) == doctest::Approx(1.15).epsilon(1e-15));
    CHECK(qs::flux_mu(256, 256) == doctest::Approx(0.5).epsilon(1e-15));
    CHECK(qs::flux_mu(512, 512) == doctest::Approx(0.5 + 0.65 * 768.0 / 3840.0));
    CHECK(qs::flux_mu(4096, 4096) > 1.15);  // not clamped
    CHECK(qs::flux_image_tokens(1536, 1024) == 96 * 64);
}

TEST_CASE("named FLUX facts") {
    const std::vector<double> diffusers = qs::diffusers_flow_match(28, 3.0);
    CHECK(diffusers.size() == 29);
    CHECK(diffusers[27] == doctest::Approx(0.0089286).epsilon(1e-5));
    CHECK(qs::diffusers_flow_match(1, 3.0) == std::vector<double>{1.0, 0.0});
    CHECK(qs::linear(4) == std::vector<double>{1.0, 0.75, 0.5, 0.25, 0.0});
    CHECK(qs::flux(4, 1024, 1024) == qs::flux_mu_schedule(4, 1.15));
    CHECK(max_abs_difference(qs::shifted(20, std::exp(1.15)), qs::flux(20, 1024, 1024)) < 1e-15);
    CHECK(qs::comfy_simple(4) == qs::flux_mu_schedule(4, 1.15));
    const std::vector<double> table = qs::comfy_flux_sigma_table();
    CHECK(table.size() == 10000);
    CHECK(table.back() == 1.0);
    CHECK(table.front() == doctest::Approx(qs::time_shift(1.15, 1e-4)));
}

TEST_CASE("comfy_denoise keeps the tail of the stretched schedule") {
    const auto simple = [](int n) { return qs::comfy_simple(n); };
    CHECK(qs::comfy_denoise(simple, 20, 1.0) == qs::comfy_simple(20));
    CHECK(qs::comfy_denoise(simple, 20, 0.99995) == qs::comfy_simple(20));
    const std::vector<double> stretched = qs::comfy_simple(66);  // int(20 / 0.3)
    const std::vector<double> kept = qs::comfy_denoise(simple, 20, 0.3);
    CHECK(kept == std::vector<double>(stretched.end() - 21, stretched.end()));
    const auto short_schedule = [](int) { return std::vector<double>{0.5, 0.0}; };
    CHECK(qs::comfy_denoise(short_schedule, 20, 0.5) == std::vector<double>{0.5, 0.0});
}

TEST_CASE("round_half_to_even is numpy.rint") {
    CHECK(qs::round_half_to_even(0.5) == 0.0);
    CHECK(qs::round_half_to_even(1.5) == 2.0);
    CHECK(qs::round_half_to_even(2.5) == 2.0);
    CHECK(qs::round_half_to_even(4999.5) == 5000.0);
    CHECK(qs::round_half_to_even(-2.5) == -2.0);
    CHECK(qs::round_half_to_even(2.4999999999999996) == 2.0);
    CHECK(qs::round_half_to_even(2.6) == 3.0);
}

TEST_CASE("schedule_spec, parse_scheduler and build") {
    for (std::string_view name : {"flux", "shift", "diffusers-shift", "comfy-simple", "comfy-beta", "linear"}) {
        CAPTURE(name);
        const qs::scheduler kind = qs::parse_scheduler(name);
        CHECK(qs::to_string(kind) == name);
        qs::schedule_spec spec;
        spec.kind = kind;
        spec.steps = 12;
        const std::vector<double> sigmas = qs::build(spec);
        CHECK_NOTHROW(qs::validate_schedule(sigmas));
        CHECK(sigmas.back() == 0.0);
        CHECK(qs::build(spec, 1.0) == sigmas);
        spec.steps = 6;
        const std::vector<double> tail = qs::build(spec, 0.5);
        spec.steps = 12;
        const std::vector<double> full = qs::build(spec);
        CHECK(tail == std::vector<double>(full.end() - 7, full.end()));
    }
    for (std::string_view name : {"comfy", "diffusers", "bfl", "sdcpp"})
        CHECK(qs::to_string(qs::parse_strength_rule(name)) == name);
    CHECK(std::size(qs::all_strength_rules) == 4);

    const qs::schedule_spec defaults;
    CHECK(qs::build(defaults) == qs::flux(20, 1024, 1024));
    CHECK(qs::build(qs::schedule_for_image(28, 1536, 1024)) == qs::flux(28, 1536, 1024));
    qs::schedule_spec spec;
    spec.kind = qs::scheduler::diffusers_shift;
    spec.steps = 28;
    CHECK(qs::build(spec) == qs::diffusers_flow_match(28, 3.0));
    spec.kind = qs::scheduler::shift;
    CHECK(qs::build(spec) == qs::shifted(28, 3.0));
    spec.kind = qs::scheduler::comfy_beta;
    spec.mu = 0.5;
    CHECK(qs::build(spec) == qs::comfy_beta(28, 0.5));
    spec.kind = qs::scheduler::comfy_simple;
    CHECK(qs::build(spec, 0.5) == qs::comfy_denoise([](int n) { return qs::comfy_simple(n, 0.5); }, 28, 0.5));
}

TEST_CASE("validate_schedule") {
    CHECK_NOTHROW(qs::validate_schedule(std::vector<double>{1.0, 0.5, 0.0}));
    CHECK_NOTHROW(qs::validate_schedule(std::vector<double>{0.0}));
    CHECK_NOTHROW(qs::validate_schedule(std::vector<double>{0.7, 0.2}));
    check_invalid([] { qs::validate_schedule(std::vector<double>{}); }, "sigmas.size()", "0");
    check_invalid([] { qs::validate_schedule(std::vector<double>{1.5, 0.0}); }, "sigmas[0]", "1.5");
    check_invalid([] { qs::validate_schedule(std::vector<double>{1.0, 0.5, 0.5, 0.0}); }, "sigmas[2]", "0.5");
    check_invalid([] { qs::validate_schedule(std::vector<double>{1.0, 0.25, 0.75, 0.0}); }, "sigmas[2]", "0.75");
    check_invalid([] { qs::validate_schedule(std::vector<double>{1.0, 0.5, -0.25}); }, "sigmas[2]", "-0.25");
    check_invalid([] { qs::validate_schedule(std::vector<double>{1.0, not_a_number, 0.0}); }, "sigmas[1]", "nan");
    check_invalid([] { qs::validate_schedule(std::vector<double>{infinity, 0.0}); }, "sigmas[0]", "inf");
}

TEST_CASE("bad inputs throw invalid_argument naming the parameter and its value") {
    SUBCASE("steps") {
        check_invalid([] { qs::flux(0, 1024, 1024); }, "steps", "0");
        check_invalid([] { qs::flux_mu_schedule(-3, 1.15); }, "steps", "-3");
        check_invalid([] { qs::shifted(0, 3.0); }, "steps", "0");
        check_invalid([] { qs::linear(-1); }, "steps", "-1");
        check_invalid([] { qs::diffusers_flow_match(0, 3.0); }, "steps", "0");
        check_invalid([] { qs::comfy_simple(0); }, "steps", "0");
        check_invalid([] { qs::comfy_beta(-2); }, "steps", "-2");
        check_invalid([] { qs::comfy_denoise([](int n) { return qs::linear(n); }, 0, 0.5); }, "steps", "0");
        check_invalid([] { qs::img2img_start_index(qs::strength_rule::bfl, 0, 0.5); }, "steps", "0");
        qs::schedule_spec spec;
        spec.steps = 0;
        check_invalid([&] { qs::build(spec); }, "steps", "0");
    }
    SUBCASE("image size") {
        check_invalid([] { qs::flux_mu(1000, 1024); }, "width", "1000");
        check_invalid([] { qs::flux_mu(1024, 1032); }, "height", "1032");
        check_invalid([] { qs::flux_mu(0, 1024); }, "width", "0");
        check_invalid([] { qs::flux_mu(1024, -16); }, "height", "-16");
        check_invalid([] { qs::flux(20, 1023, 1024); }, "width", "1023");
        check_invalid([] { qs::schedule_for_image(20, 1024, 8); }, "height", "8");
    }
    SUBCASE("shift, mu, alpha, beta, num_train_timesteps") {
        check_invalid([] { qs::shifted(20, 0.0); }, "shift", "0");
        check_invalid([] { qs::shifted(20, -3.0); }, "shift", "-3");
        check_invalid([] { qs::shifted(20, not_a_number); }, "shift", "nan");
        check_invalid([] { qs::diffusers_flow_match(20, -1.0); }, "shift", "-1");
        check_invalid([] { qs::diffusers_flow_match(20, infinity); }, "shift", "inf");
        check_invalid([] { qs::diffusers_flow_match(20, 3.0, 1); }, "num_train_timesteps", "1");
        check_invalid([] { qs::static_shift(0.0, 0.5); }, "shift", "0");
        check_invalid([] { qs::static_shift(3.0, 1.5); }, "t", "1.5");
        check_invalid([] { qs::flux_mu_schedule(20, not_a_number); }, "mu", "nan");
        check_invalid([] { qs::flux_mu_schedule(20, infinity); }, "mu", "inf");
        check_invalid([] { qs::comfy_simple(20, not_a_number); }, "mu", "nan");
        check_invalid([] { qs::comfy_beta(20, -infinity); }, "mu", "-inf");
        check_invalid([] { qs::comfy_beta(20, 1.15, 0.0); }, "alpha", "0");
        check_invalid([] { qs::comfy_beta(20, 1.15, 0.6, -0.5); }, "beta", "-0.5");
        check_invalid([] { qs::beta_quantile(1.5, 0.6, 0.6); }, "q", "1.5");
        check_invalid([] { qs::beta_quantile(not_a_number, 0.6, 0.6); }, "q", "nan");
        qs::schedule_spec spec;
        spec.kind = qs::scheduler::shift;
        spec.shift = -2.0;
        check_invalid([&] { qs::build(spec); }, "shift", "-2");
        spec.kind = qs::scheduler::flux;
        spec.mu = not_a_number;
        check_invalid([&] { qs::build(spec); }, "mu", "nan");
    }
    SUBCASE("denoise") {
        const auto simple = [](int n) { return qs::comfy_simple(n); };
        check_invalid([&] { qs::comfy_denoise(simple, 20, 0.0); }, "denoise", "0");
        check_invalid([&] { qs::comfy_denoise(simple, 20, -0.5); }, "denoise", "-0.5");
        check_invalid([&] { qs::comfy_denoise(simple, 20, 1.5); }, "denoise", "1.5");
        check_invalid([&] { qs::comfy_denoise(simple, 20, not_a_number); }, "denoise", "nan");
        check_invalid([&] { qs::comfy_denoise(simple, 20, 1e-300); }, "denoise", "1e-300");
        check_invalid([] { qs::build(qs::schedule_spec{}, 2.0); }, "denoise", "2");
    }
    SUBCASE("strength") {
        const std::vector<double> full = qs::flux(20, 1024, 1024);
        for (qs::strength_rule rule : qs::all_strength_rules) {
            check_invalid([&] { qs::img2img_sigmas(full, -0.25, rule); }, "strength", "-0.25");
            check_invalid([&] { qs::img2img_sigmas(full, 1.5, rule); }, "strength", "1.5");
            check_invalid([&] { qs::img2img_sigmas(full, not_a_number, rule); }, "strength", "nan");
            check_invalid([&] { qs::img2img_start_index(rule, 20, infinity); }, "strength", "inf");
        }
        check_invalid([] { qs::img2img_sigmas(std::vector<double>{0.0}, 0.5, qs::strength_rule::comfy); },
                      "full_schedule.size()", "1");
    }
    SUBCASE("names") {
        check_invalid([] { qs::parse_scheduler("karras"); }, "scheduler", "karras");
        check_invalid([] { qs::parse_scheduler("diffusers_shift"); }, "scheduler", "diffusers_shift");
        check_invalid([] { qs::parse_strength_rule("a1111"); }, "strength_rule", "a1111");
        check_invalid([] { qs::parse_strength_rule(""); }, "strength_rule", "");
    }
}
