// Tests of prediction kinds and their conversions to and from flow velocity.
#include <doctest/doctest.h>

#include <cmath>

#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/prediction/prediction.hpp"

using namespace quadflow;
using prediction::kind;

TEST_CASE("conversions follow conventions.md section 1 on an exact state") {
    const float x0 = 0.3f, noise = -1.2f;
    for (float sigma : {0.05f, 0.4f, 0.9f}) {
        const float x = (1 - sigma) * x0 + sigma * noise;
        const float v = noise - x0;
        CHECK(prediction::from_flow_velocity(kind::denoised, v, x, sigma) == doctest::Approx(x0).epsilon(1e-6));
        CHECK(prediction::from_flow_velocity(kind::t_velocity, v, x, sigma) == doctest::Approx(x0 - noise));
        CHECK(prediction::from_flow_velocity(kind::epsilon, v, x, sigma) == doctest::Approx(noise).epsilon(1e-6));
        CHECK(prediction::to_flow_velocity(kind::denoised, x0, x, sigma) == doctest::Approx(v).epsilon(1e-5));
        CHECK(prediction::to_flow_velocity(kind::epsilon, noise, x, sigma) == doctest::Approx(v).epsilon(1e-5));
        CHECK(prediction::to_flow_velocity(kind::t_velocity, x0 - noise, x, sigma) == doctest::Approx(v));
    }
}

TEST_CASE("every kind round-trips through flow velocity") {
    for (kind k : {kind::flow_velocity, kind::denoised, kind::t_velocity, kind::epsilon})
        for (float sigma : {0.01f, 0.5f, 0.99f})
            for (float v : {-2.0f, 0.0f, 0.7f}) {
                const float x = 0.37f;
                const float p = prediction::from_flow_velocity(k, v, x, sigma);
                CHECK(prediction::to_flow_velocity(k, p, x, sigma) == doctest::Approx(v).epsilon(1e-4));
            }
}

TEST_CASE("tensor conversion works in place and checks its arguments") {
    host_tensor x(shape4{1, 1, 1, 3}, std::vector<float>{0.1f, -0.2f, 0.5f});
    host_tensor p(shape4{1, 1, 1, 3}, std::vector<float>{0.0f, 0.0f, 0.0f});  // denoised = 0
    prediction::to_flow_velocity(kind::denoised, p.cview(), x.cview(), 0.5, p.view());
    CHECK(p(0, 0, 0, 0) == doctest::Approx(0.2f));
    CHECK(p(0, 0, 0, 2) == doctest::Approx(1.0f));

    host_tensor wrong(shape4{1, 1, 1, 2});
    CHECK_THROWS_WITH_AS(prediction::to_flow_velocity(kind::denoised, wrong.cview(), x.cview(), 0.5, p.view()),
                         doctest::Contains("[1, 1, 1, 2]"), shape_error);
    CHECK_THROWS_WITH_AS(prediction::to_flow_velocity(kind::denoised, p.cview(), x.cview(), 0.0, p.view()),
                         doctest::Contains("sigma = 0"), invalid_argument);
    CHECK_THROWS_WITH_AS(prediction::to_flow_velocity(kind::epsilon, p.cview(), x.cview(), 1.0, p.view()),
                         doctest::Contains("sigma = 1"), invalid_argument);
    CHECK_THROWS_WITH_AS(prediction::parse_kind("velocity"), doctest::Contains("prediction_kind = velocity"),
                         invalid_argument);
    CHECK(prediction::parse_kind("epsilon") == kind::epsilon);
}

TEST_CASE("the Gaussian model's velocity is exact along its ODE solution") {
    const double mu = 0.8, s = 0.3, n = -0.6;
    for (double sigma : {0.9, 0.5, 0.1}) {
        const double h = 1e-6;
        const double derivative =
            (model::gaussian_solution(n, sigma + h, mu, s) - model::gaussian_solution(n, sigma - h, mu, s)) / (2 * h);
        const double x = model::gaussian_solution(n, sigma, mu, s);
        CHECK(model::gaussian_velocity(x, sigma, mu, s) == doctest::Approx(derivative).epsilon(1e-7));
    }
    // s = 0: a point target, the velocity lands exactly on mu.
    CHECK(model::gaussian_posterior_mean(0.123, 0.4, 0.8, 0.0) == doctest::Approx(0.8));
}

TEST_CASE("to_string of a value outside the enum throws, as every to_string does") {
    CHECK(prediction::to_string(prediction::kind::epsilon) == "epsilon");
    CHECK_THROWS_WITH_AS(prediction::to_string(static_cast<prediction::kind>(99)),
                         "prediction_kind = 99: is not a prediction::kind", invalid_argument);
}
