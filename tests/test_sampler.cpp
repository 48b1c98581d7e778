// Tests of the samplers and the sampling loop on analytic velocity fields.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "quadflow/field/canvas_field.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/sampler/dpmpp_2m.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/heun.hpp"
#include "quadflow/sampler/sample.hpp"

using namespace quadflow;

namespace {

// The project's golden schedules (tests/golden/schedules_golden.inc), "toy": flux 1024^2, 4 steps, x1 = 1, data_std =
// 0.5.
const std::vector<double> flux_4_steps = {1.0, 0.9045307667386396, 0.7595109169491111, 0.5128441015091338, 0.0};

template <class S>
double toy_endpoint(const std::vector<double>& sigmas, double data_std, double x1) {
    host_tensor target(shape4{1, 1, 1, 1}, 0.0f);
    model::gaussian_model toy(target.cview(), data_std);
    field::canvas_field field(toy);
    host_tensor x(shape4{1, 1, 1, 1}, static_cast<float>(x1));
    S s;
    sampler::sample(s, field, x.view(), sigmas);
    return x(0, 0, 0, 0);
}

std::vector<double> uniform_schedule(int steps, double start = 1.0) {
    std::vector<double> s;
    for (int i = 0; i <= steps; ++i) s.push_back(start * (1.0 - double(i) / steps));
    return s;
}

template <class S>
void check_constant_velocity_is_exact() {
    const std::vector<double> sigmas = {1.0, 0.93, 0.8, 0.6, 0.35, 0.1, 0.0};
    host_tensor x(shape4{1, 2, 3, 5});
    for (std::int64_t i = 0; i < x.numel(); ++i) x.span()[i] = 0.25f * float(i) - 1.0f;
    const host_tensor start = x;
    sampler::constant_velocity field{0.75f};
    S s;
    sampler::sample(s, field, x.view(), sigmas);
    for (std::int64_t i = 0; i < x.numel(); ++i) CHECK(std::abs(x.span()[i] - (start.span()[i] - 0.75f)) <= 2e-6f);
}

}  // namespace

TEST_CASE("toy Gaussian endpoints match the golden values of schedules.json") {
    CHECK(std::abs(toy_endpoint<sampler::euler>(flux_4_steps, 0.5, 1.0) - 0.20437195379454964) <= 1e-6);
    CHECK(std::abs(toy_endpoint<sampler::heun>(flux_4_steps, 0.5, 1.0) - 0.21760516862172768) <= 1e-6);
    CHECK(std::abs(toy_endpoint<sampler::dpmpp_2m>(flux_4_steps, 0.5, 1.0) - 0.21248526255751776) <= 1e-6);
}

TEST_CASE("a constant velocity field is integrated exactly by every sampler") {
    check_constant_velocity_is_exact<sampler::euler>();
    check_constant_velocity_is_exact<sampler::heun>();
    check_constant_velocity_is_exact<sampler::dpmpp_2m>();
}

TEST_CASE("samplers converge to the exact ODE solution, Heun and DPM++ 2M faster than Euler") {
    const double exact = model::gaussian_solution(1.0, 0.0, 0.0, 0.5);  // = 0.5
    CHECK(exact == doctest::Approx(0.5));
    // Avoid the stiff start at sigma = 1 by sampling from the exact state at sigma = 0.9.
    const double start = model::gaussian_solution(1.0, 0.9, 0.0, 0.5);
    double previous_euler = 1e9;
    for (int steps : {8, 16, 32}) {
        const auto sigmas = uniform_schedule(steps, 0.9);
        const double e = std::abs(toy_endpoint<sampler::euler>(sigmas, 0.5, start) - exact);
        const double h = std::abs(toy_endpoint<sampler::heun>(sigmas, 0.5, start) - exact);
        const double d = std::abs(toy_endpoint<sampler::dpmpp_2m>(sigmas, 0.5, start) - exact);
        CHECK(e < previous_euler);
        CHECK(h < e);
        CHECK(d < e);
        previous_euler = e;
    }
}

TEST_CASE("the observer sees every step and can cancel") {
    host_tensor x(shape4{1, 1, 2, 2}, 1.0f);
    sampler::constant_velocity field{1.0f};
    sampler::euler s;
    std::vector<int> seen;
    const auto all = sampler::sample(s, field, x.view(), uniform_schedule(5), [&](const sampler::step_info& info) {
        seen.push_back(info.step);
        CHECK(info.total == 5);
        CHECK(info.sigma_next < info.sigma);
        return true;
    });
    CHECK(all.steps_done == 5);
    CHECK_FALSE(all.cancelled);
    CHECK(seen == std::vector<int>{0, 1, 2, 3, 4});

    host_tensor y(shape4{1, 1, 2, 2}, 1.0f);
    const auto cut = sampler::sample(s, field, y.view(), uniform_schedule(5),
                                     [](const sampler::step_info& info) { return info.step < 1; });
    CHECK(cut.steps_done == 2);
    CHECK(cut.cancelled);
    CHECK(y(0, 0, 0, 0) == doctest::Approx(1.0 - 0.4));  // two steps of dt = -0.2 with v = 1
}

TEST_CASE("the step index reaches the model through on_step, for Heun's corrector too") {
    host_tensor x(shape4{1, 1, 1, 1}, 1.0f);
    std::vector<int> steps;
    auto spy = model::make_model(prediction::kind::flow_velocity, [&](const model::batch_request& r, mutable_view out) {
        steps.push_back(r.step);
        out(0, 0, 0, 0) = 0.0f;
    });
    field::canvas_field field(spy);
    sampler::heun s;
    sampler::sample(s, field, x.view(), uniform_schedule(3));
    CHECK(steps == std::vector<int>{0, 0, 1, 1, 2});
    CHECK(field.evaluations() == 5);
}

TEST_CASE("bad sampler input gets a clear error") {
    host_tensor x(shape4{1, 1, 2, 2});
    sampler::constant_velocity field{1.0f};
    sampler::euler s;
    SUBCASE("empty schedule") {
        std::vector<double> none;
        CHECK_THROWS_WITH_AS(sampler::sample(s, field, x.view(), none), doctest::Contains("sigmas.size() = 0"),
                             invalid_argument);
    }
    SUBCASE("increasing schedule") {
        std::vector<double> up = {0.5, 0.7, 0.0};
        CHECK_THROWS_WITH_AS(sampler::sample(s, field, x.view(), up), doctest::Contains("sigmas[1] = 0.7"),
                             invalid_argument);
    }
    SUBCASE("NaN sigma") {
        std::vector<double> bad = {1.0, std::nan(""), 0.0};
        CHECK_THROWS_WITH_AS(sampler::sample(s, field, x.view(), bad), doctest::Contains("sigmas[1] = nan"),
                             invalid_argument);
    }
    SUBCASE("shape changed after reset") {
        s.reset(shape4{1, 1, 3, 3});
        CHECK_THROWS_WITH_AS(s.step(field, x.view(), 1.0, 0.5), doctest::Contains("[1, 1, 3, 3]"), shape_error);
    }
    SUBCASE("non-contiguous canvas") {
        s.reset(shape4{1, 1, 2, 1});
        mutable_view strided(x.data(), shape4{1, 1, 2, 1}, strides4{4, 4, 2, 2});
        CHECK_THROWS_WITH_AS(s.step(field, strided, 1.0, 0.5), doctest::Contains("contiguous"), shape_error);
    }
}

TEST_CASE("sample() tells a step-aware field each step before it is evaluated") {
    sampler::step_recording_velocity field;
    field.value = 1.0f;
    host_tensor x(shape4{1, 1, 2, 2}, 0.0f);
    sampler::euler s;
    std::vector<int> seen;
    sampler::sample(s, field, x.view(), flux_4_steps, [&](const sampler::step_info& info) {
        seen.push_back(field.step);
        return info.step == field.step;
    });
    CHECK(seen == std::vector<int>{0, 1, 2, 3});
}
