// Tests of the field under a real engine's conventions (issue: schedule and step handshake, unwritten model
// outputs, epsilon models on FLUX schedules, callables of the wrong signature). Each case failed before the fix.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/sampler/dpmpp_2m.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/heun.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/schedule/flux.hpp"

using namespace quadflow;
using fixtures::grid_layout;
using fixtures::wavy;

namespace {

constexpr shape4 canvas{1, 2, 16, 16};

field::field_options options_with(std::vector<double> sigmas) {
    field::field_options o;
    o.sigmas = std::move(sigmas);
    return o;
}

/// x0 = 0.25 for every element, in the denoised slot (the form engines' denoisers return).
auto constant_denoiser() {
    return model::make_model(prediction::kind::denoised, [](const model::batch_request&, mutable_view out) {
        for (float& e : out.span()) e = 0.25f;
    });
}

std::string message_of(auto&& run) {
    try {
        run();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "no exception";
}

}  // namespace

TEST_CASE("a field given one schedule and sampled on another says which step and sigma disagree") {
    const std::vector<double> twenty = schedule::flux(20, 256, 256), four = schedule::flux(4, 256, 256);
    const auto layout = grid_layout(2, 2, 8, 2, {0.5, 1.0});
    auto model = constant_denoiser();
    host_tensor original = wavy(canvas, 0.5f, 0.3f), noise = wavy(canvas, 1.0f, 1.7f), x(canvas);
    field::tiled_field f(model, layout, canvas, policy::strength{}, options_with(twenty), original.cview());
    sampler::noised_original(original.cview(), noise.cview(), four.front(), x.view());
    sampler::euler euler;
    // Before: 0 model calls, no error, the noised original returned.
    const std::string message = message_of([&] { sampler::sample(euler, f, x.view(), four); });
    CHECK(message.find("sigma_next at step 0 = " + detail::to_text(four[1])) != std::string::npos);
    CHECK(message.find("the field's schedule (field_options.sigmas, 20 steps) has " + detail::to_text(twenty[1])) !=
          std::string::npos);
    CHECK(f.stats().model_calls == 0);
}

TEST_CASE("every evaluation's sigma must lie on its step's interval of the schedule") {
    const std::vector<double> sigmas = {1.0, 0.75, 0.5, 0.25, 0.0};
    const auto layout = grid_layout(2, 2, 8, 2, {1.0});
    auto model = constant_denoiser();
    field::tiled_field f(model, layout, canvas, policy::scale{}, options_with(sigmas));
    host_tensor x = wavy(canvas, 1.0f, 0.4f), v(canvas);
    f.on_step(1, 0.75, 0.5);
    CHECK_NOTHROW(f(x.cview(), 0.75, v.view()));       // the step's grid point
    CHECK_NOTHROW(f(x.cview(), 0.5, v.view()));        // Heun's corrector at the next point
    CHECK_NOTHROW(f(x.cview(), 0.6123724, v.view()));  // DPM2's geometric midpoint
    CHECK_NOTHROW(f(x.cview(), 0.75f, v.view()));      // a float sigma from an engine
    CHECK_THROWS_WITH_AS(f(x.cview(), 1.0, v.view()),
                         doctest::Contains("sigma at step 1 = 1: step 1 of the field's schedule (field_options.sigmas, "
                                           "4 steps) runs from sigma 0.75 to 0.5"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(f(x.cview(), 0.25, v.view()), doctest::Contains("sigma at step 1 = 0.25"), invalid_argument);
    SUBCASE("on_step itself must name a step of the schedule with its sigmas") {
        CHECK_THROWS_WITH_AS(f.on_step(4, 0.0, 0.0), doctest::Contains("step = 4: is past the last step"),
                             invalid_argument);
        CHECK_THROWS_WITH_AS(f.on_step(1, 1.0, 0.75), doctest::Contains("sigma at step 1 = 1"), invalid_argument);
        CHECK_THROWS_WITH_AS(f.on_step(-1, 1.0, 0.75), doctest::Contains("step = -1: must be >= 0"), invalid_argument);
    }
    SUBCASE("with no schedule in the options any sigma in (0, 1] is accepted") {
        field::tiled_field free(model, layout, canvas, policy::scale{}, field::field_options{});
        free.on_step(7, 0.3, 0.2);
        CHECK_NOTHROW(free(x.cview(), 0.9, v.view()));
    }
}

TEST_CASE("the same field samples every schedule point of Euler, Heun and DPM++ 2M without a schedule error") {
    const std::vector<double> sigmas = schedule::flux(6, 256, 256);
    const auto layout = grid_layout(2, 2, 8, 2, {0.0, 0.4, 1.0});
    host_tensor original = wavy(canvas, 0.5f, 0.3f), noise = wavy(canvas, 1.0f, 1.7f), target(canvas, 0.1f);
    model::gaussian_model model(target.cview(), 0.2);
    field::tiled_field f(model, layout, canvas, policy::strength{}, options_with(sigmas), original.cview());
    auto run = [&](auto sampler_) {
        host_tensor x(canvas);
        sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view());
        sampler::sample(sampler_, f, x.view(), sigmas);
        float kept = 0.0f;  // tile 0 has d = 0; pixels x, y < 6 are covered by its padded rectangle alone
        for (std::int64_t c = 0; c < canvas.c; ++c)
            for (std::int64_t y = 0; y < 6; ++y)
                for (std::int64_t px = 0; px < 6; ++px)
                    kept = std::max(kept, std::abs(x(0, c, y, px) - original(0, c, y, px)));
        return kept;
    };
    CHECK(run(sampler::euler{}) <= 1e-5f);
    CHECK(run(sampler::heun{}) <= 1e-5f);
    CHECK(run(sampler::dpmpp_2m{}) <= 1e-5f);
    CHECK(f.stats().model_calls > 0);
}

TEST_CASE("a model that writes nothing is named, with its tile, instead of returning zeros") {
    const std::vector<double> sigmas = {1.0, 0.5, 0.0};
    const auto layout = grid_layout(2, 2, 8, 2, {1.0});
    SUBCASE("writes nothing at all") {
        auto silent =
            model::make_model(prediction::kind::flow_velocity, [](const model::batch_request&, mutable_view) {});
        field::tiled_field f(silent, layout, canvas, policy::scale{}, options_with(sigmas));
        host_tensor x = wavy(canvas, 1.0f, 0.2f);
        sampler::euler s;
        const std::string message = message_of([&] { sampler::sample(s, f, x.view(), sigmas); });
        CHECK(message.find("model output nan gives a non-finite flow velocity (nan) at step 0, sigma 1, in tile 0") !=
              std::string::npos);
        CHECK(message.find("did not write that element") != std::string::npos);
    }
    SUBCASE("writes only its first channel") {
        auto partial =
            model::make_model(prediction::kind::flow_velocity, [](const model::batch_request& r, mutable_view out) {
                for (std::int64_t b = 0; b < r.x.shape().n; ++b)
                    for (std::int64_t y = 0; y < r.x.shape().h; ++y)
                        for (std::int64_t px = 0; px < r.x.shape().w; ++px) out(b, 0, y, px) = 0.0f;
            });
        field::tiled_field f(partial, layout, canvas, policy::scale{}, options_with(sigmas));
        host_tensor x = wavy(canvas, 1.0f, 0.2f), v(canvas);
        f.on_step(0, 1.0, 0.5);
        CHECK_THROWS_WITH_AS(f(x.cview(), 1.0, v.view()), doctest::Contains("channel 1"), model_error);
    }
}

TEST_CASE("an epsilon model runs on a FLUX schedule when no tile calls it at sigma = 1") {
    const std::vector<double> sigmas = schedule::flux(8, 256, 256);
    REQUIRE(sigmas.front() == 1.0);
    const auto layout = grid_layout(2, 2, 8, 2, {0.5, 0.0});  // no tile starts at step 0
    host_tensor original = wavy(canvas, 0.5f, 0.3f), noise = wavy(canvas, 1.0f, 1.7f), x(canvas);
    std::int64_t calls_at_one = 0;
    auto epsilon = model::make_model(prediction::kind::epsilon, [&](const model::batch_request& r, mutable_view out) {
        calls_at_one += r.sigma == 1.0;
        for (std::int64_t i = 0; i < out.numel(); ++i) out.data()[i] = r.x.data()[i];  // eps = x: finite velocity
    });
    field::tiled_field f(epsilon, layout, canvas, policy::strength{}, options_with(sigmas), original.cview());
    sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view());
    sampler::euler s;
    CHECK_NOTHROW(sampler::sample(s, f, x.view(), sigmas));
    CHECK(calls_at_one == 0);
    CHECK(f.stats().model_calls > 0);
    SUBCASE("and is refused where a tile does call it at sigma = 1") {
        const auto full = grid_layout(2, 2, 8, 2, {1.0});
        field::tiled_field g(epsilon, full, canvas, policy::strength{}, options_with(sigmas), original.cview());
        sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view());
        CHECK_THROWS_WITH_AS(sampler::sample(s, g, x.view(), sigmas),
                             doctest::Contains("sigma = 1: an epsilon prediction has no velocity at sigma = 1"),
                             invalid_argument);
    }
}

namespace {
struct wrong_signature {  // an engine's whole-latent denoiser, not a batch callback
    void operator()(const_view, double, int, mutable_view) const {}
};
struct right_signature {
    void operator()(const model::batch_request&, mutable_view) const {}
};
template <class F>
constexpr bool makes_a_model = requires(F f) {
    model::make_model(prediction::kind::denoised, f);
};
}  // namespace

TEST_CASE("make_model accepts only callables of the batch signature") {
    // Before, a wrong callable passed make_model and the field's constructor and failed deep in sample().
    static_assert(makes_a_model<right_signature>);
    static_assert(!makes_a_model<wrong_signature>);
    static_assert(!makes_a_model<int>);
    static_assert(!model::batch_callback<wrong_signature>);
    CHECK(model::batch_callback<right_signature>);
    CHECK_FALSE(makes_a_model<void (*)(mutable_view)>);
}

namespace {
/// A user's own Differential-Diffusion-like policy: not named "mask", but it reads a strength map.
struct my_soft_mask {
    static constexpr std::string_view name = "my_soft_mask";
    static constexpr bool needs_original = true;
    static constexpr bool needs_strength_map = true;
    static constexpr bool needs_schedule = true;
    bool needs_model(const policy::tile_context& t) const { return t.max_pixel_strength >= t.tau; }
    float velocity(const policy::tile_context& t, const policy::element& e) const {
        return e.strength >= t.tau ? e.model_velocity : (e.x - e.original) / t.sigma;
    }
};
/// A policy that happens to be called "mask" and reads nothing but the model.
struct named_mask {
    static constexpr std::string_view name = "mask";
    static constexpr bool needs_original = false;
    bool needs_model(const policy::tile_context&) const { return true; }
    float velocity(const policy::tile_context&, const policy::element& e) const { return e.model_velocity; }
};
}  // namespace

TEST_CASE("a policy's needs are its declared traits, not its name") {
    static_assert(policy::needs_strength_map_v<policy::mask> && policy::needs_schedule_v<policy::mask>);
    static_assert(policy::needs_schedule_v<policy::strength> && !policy::needs_strength_map_v<policy::strength>);
    static_assert(!policy::needs_schedule_v<policy::scale> && !policy::needs_strength_map_v<policy::scale>);
    const auto layout = grid_layout(2, 2, 8, 2, {1.0});
    auto model = constant_denoiser();
    host_tensor original = wavy(canvas, 0.5f, 0.3f);
    const std::vector<double> sigmas = {1.0, 0.5, 0.0};
    // Before, my_soft_mask was built without a map (the field asked only a policy named "mask" for one) and
    // read nulls; a policy named "mask" had to bring a map it never reads.
    CHECK_THROWS_WITH_AS(
        field::tiled_field(model, layout, canvas, my_soft_mask{}, options_with(sigmas), original.cview()),
        doctest::Contains("strength_map = none: the my_soft_mask policy needs a per-pixel strength map"),
        invalid_argument);
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, my_soft_mask{}, field::field_options{},
                                            original.cview(), host_tensor(shape4{1, 1, 16, 16}, 1.0f).cview()),
                         doctest::Contains("the my_soft_mask policy needs the schedule being sampled"),
                         invalid_argument);
    CHECK_NOTHROW(field::tiled_field(model, layout, canvas, named_mask{}, field::field_options{}));
}

TEST_CASE("the NaN fill of model outputs is on by default and can be turned off for a model that writes everything") {
    CHECK(field::field_options{}.fill_outputs_with_nan);
    const std::vector<double> sigmas = {1.0, 0.5, 0.0};
    const auto layout = grid_layout(2, 2, 8, 2, {1.0});
    auto writing =
        model::make_model(prediction::kind::flow_velocity, [](const model::batch_request& r, mutable_view out) {
            CHECK((std::isnan(out.data()[0]) && r.step >= 0));  // the fill is on: outputs arrive as NaN
            for (float& e : out.span()) e = 0.5f;
        });
    field::tiled_field f(writing, layout, canvas, policy::scale{}, options_with(sigmas));
    host_tensor x = wavy(canvas, 1.0f, 0.2f);
    sampler::euler s;
    sampler::sample(s, f, x.view(), sigmas);
    auto off = options_with(sigmas);
    off.fill_outputs_with_nan = false;
    std::int64_t nan_inputs = 0;
    auto counting =
        model::make_model(prediction::kind::flow_velocity, [&](const model::batch_request&, mutable_view out) {
            nan_inputs += std::isnan(out.data()[0]);
            for (float& e : out.span()) e = 0.5f;
        });
    field::tiled_field g(counting, layout, canvas, policy::scale{}, off);
    sampler::sample(s, g, x.view(), sigmas);
    CHECK(nan_inputs == 0);
    CHECK(g.stats().model_calls > 0);
}
