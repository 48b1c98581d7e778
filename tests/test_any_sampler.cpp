// Tests of sampler::any_sampler: the names, and that each alternative samples exactly as its concrete sampler.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "quadflow/field/canvas_field.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/sampler/any_sampler.hpp"

using namespace quadflow;

namespace {

const std::vector<double> sigmas = {1.0, 0.93, 0.8, 0.6, 0.35, 0.1, 0.0};

host_tensor start_canvas() {
    host_tensor x(shape4{1, 2, 3, 5});
    for (std::int64_t i = 0; i < x.numel(); ++i) x.span()[i] = 0.25f * float(i) - 1.0f;
    return x;
}

bool bit_identical(const host_tensor& a, const host_tensor& b) {
    return a.shape() == b.shape() &&
           std::memcmp(a.span().data(), b.span().data(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0;
}

/// Runs `S` directly and through any_sampler on the same field and start; both results must be the same bits.
template <class S, class MakeField>
void check_same_as_concrete(MakeField make_field) {
    CAPTURE(S::name);
    host_tensor direct = start_canvas(), through = start_canvas();
    {
        auto field = make_field();
        S s;
        const auto r = sampler::sample(s, field, direct.view(), sigmas);
        CHECK(r.steps_done == 6);
    }
    {
        auto field = make_field();
        sampler::any_sampler s = sampler::parse_sampler(S::name);
        CHECK(std::holds_alternative<S>(s));
        const auto r = sampler::sample(s, field, through.view(), sigmas);
        CHECK(r.steps_done == 6);
    }
    CHECK(bit_identical(direct, through));
}

}  // namespace

TEST_CASE("parse_sampler knows euler|heun|dpmpp-2m by the samplers' own names") {
    CHECK(joined_alternative_names<sampler::any_sampler>() == "euler|heun|dpmpp-2m");
    CHECK(std::holds_alternative<sampler::euler>(sampler::parse_sampler("euler")));
    CHECK(std::holds_alternative<sampler::heun>(sampler::parse_sampler("heun")));
    CHECK(std::holds_alternative<sampler::dpmpp_2m>(sampler::parse_sampler("dpmpp-2m")));
    CHECK(sampler::name_of(sampler::parse_sampler("dpmpp-2m")) == "dpmpp-2m");
    CHECK_THROWS_WITH_AS(sampler::parse_sampler("dpmpp_2m"), "sampler = dpmpp_2m: must be one of euler|heun|dpmpp-2m",
                         invalid_argument);
    CHECK_THROWS_WITH_AS(sampler::parse_sampler("ddim", "--sampler"),
                         "--sampler = ddim: must be one of euler|heun|dpmpp-2m", invalid_argument);
}

TEST_CASE("any_sampler runs a constant velocity field bit for bit as the concrete sampler") {
    auto constant = [] { return sampler::constant_velocity{0.75f}; };
    check_same_as_concrete<sampler::euler>(constant);
    check_same_as_concrete<sampler::heun>(constant);
    check_same_as_concrete<sampler::dpmpp_2m>(constant);
}

TEST_CASE("any_sampler runs the Gaussian toy bit for bit as the concrete sampler") {
    host_tensor target(shape4{1, 2, 3, 5}, 0.1f);
    model::gaussian_model toy(target.cview(), 0.5);
    auto toy_field = [&] { return field::canvas_field(toy); };
    check_same_as_concrete<sampler::euler>(toy_field);
    check_same_as_concrete<sampler::heun>(toy_field);
    check_same_as_concrete<sampler::dpmpp_2m>(toy_field);
}

TEST_CASE("any_sampler passes the observer through and can be cancelled") {
    host_tensor x = start_canvas();
    sampler::constant_velocity field{0.5f};
    sampler::any_sampler s = sampler::parse_sampler("heun");
    int seen = 0;
    const auto r = sampler::sample(s, field, x.view(), sigmas, [&](const sampler::step_info& info) {
        ++seen;
        return info.step < 1;
    });
    CHECK(seen == 2);
    CHECK(r.steps_done == 2);
    CHECK(r.cancelled);
}
