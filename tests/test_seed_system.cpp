// The seed system as its code runs: quadflow's seed_* policies against real runs of comfyui-quadtree-tile inside
// ComfyUI (tests/data/seed_system/, see its README.md), and the seed document's velocity reading next to them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "quadflow/field/tiled_field.hpp"
#include "quadflow/policy/any_policy.hpp"
#include "quadflow/policy/seed_code.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/schedule/comfy.hpp"
#include "quadflow/tile/quadtree.hpp"

using namespace quadflow;

namespace {

const std::string data_dir = std::string(QUADFLOW_SOURCE_DIR) + "/tests/data/seed_system/";

std::vector<char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A raw little-endian float32 file (the machines here are little-endian x86-64).
std::vector<float> read_floats(const std::string& path, std::size_t expected) {
    const std::vector<char> bytes = read_bytes(path);
    REQUIRE(bytes.size() == expected * sizeof(float));
    std::vector<float> values(expected);
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(values.data()));
    return values;
}

struct leaf {
    std::int64_t x, y, w, h;
    int depth;
    double denoise;
};

std::vector<leaf> read_leaves(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::vector<leaf> leaves;
    leaf l{};
    while (in >> l.x >> l.y >> l.w >> l.h >> l.depth >> l.denoise) leaves.push_back(l);
    return leaves;
}

constexpr std::int64_t image_side = 128, latent_side = 16, channels = 16;
constexpr int steps = 8;
const shape4 canvas{1, channels, latent_side, latent_side};
constexpr std::size_t canvas_elements = channels * latent_side * latent_side;

/// One folder of tests/data/seed_system: a run of the seed's code in ComfyUI.
struct seed_run {
    std::string folder;
    policy::any_policy code;      ///< quadflow's copy of that code
    policy::any_policy document;  ///< the seed document's velocity reading of the same option
    double ksampler_denoise, min_denoise;
    double document_difference;  ///< max |final - golden| of the document's reading, from the issue that found it
};

std::vector<seed_run> seed_runs() {
    const policy::progress_ramp ramp{policy::preservation::exact};
    return {{"head_ramp_denoise1.0", policy::seed_ramp{}, ramp, 1.0, 0.2, 0.089},
            {"head_ramp_denoise0.75", policy::seed_ramp{}, ramp, 0.75, 0.2, 0.081},
            {"head_ramp_denoise0.75_min0", policy::seed_ramp{}, ramp, 0.75, 0.0, 0.091},
            {"98e3cbf_scale_denoise1.0", policy::seed_scale{}, policy::scale{}, 1.0, 0.2, 2.23},
            {"98e3cbf_scale_denoise0.75", policy::seed_scale{}, policy::scale{}, 0.75, 0.2, 2.07},
            {"98e3cbf_scale_denoise0.75_min0", policy::seed_scale{}, policy::scale{}, 0.75, 0.0, 3.24}};
}

/// The run's quadtree, built from its rgb.u8 with the seed's settings (meta.json) at latent scale 8.
tile::layout seed_quadtree(const std::string& folder, double min_denoise) {
    const std::vector<char> rgb = read_bytes(data_dir + folder + "/rgb.u8");
    REQUIRE(rgb.size() == static_cast<std::size_t>(3 * image_side * image_side));
    tile::quadtree_options o;
    o.content_threshold = 25;
    o.min_tile_size = 4;
    o.min_strength = min_denoise;
    o.max_strength = 0.8;
    o.rule = tile::leaf_strength_rule::area;
    o.overlap_pixels = 0;
    return tile::build_quadtree(
        tile::packed_rgb_view(reinterpret_cast<const std::uint8_t*>(rgb.data()), image_side, image_side), o);
}

/// The fake Flux model of the runs, as quadflow models of either kind: its denoised estimate is target[c]
/// everywhere (kind denoised), or its velocity is (x - target[c]) / sigma (kind flow_velocity), as the runs' model
/// returned it to ComfyUI.
auto constant_target_model(const std::vector<float>& target, prediction::kind kind) {
    return model::make_model(kind, [target, kind](const model::batch_request& r, mutable_view out) {
        const shape4 s = r.x.shape();
        const auto sigma = static_cast<float>(r.sigma);
        for (std::int64_t n = 0; n < s.n; ++n)
            for (std::int64_t c = 0; c < s.c; ++c)
                for (std::int64_t y = 0; y < s.h; ++y)
                    for (std::int64_t x = 0; x < s.w; ++x) {
                        const float t = target[static_cast<std::size_t>(c)];
                        out(n, c, y, x) = kind == prediction::kind::denoised ? t : (r.x(n, c, y, x) - t) / sigma;
                    }
    });
}

float max_abs_difference(const float* a, const float* b, std::size_t count) {
    float worst = 0.0f;
    for (std::size_t i = 0; i < count; ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

struct golden {
    std::vector<double> sigmas;
    std::vector<float> target, original, x_start, x_trace, denoised_trace, final_state;
};

golden read_golden(const std::string& folder) {
    const std::string dir = data_dir + folder + "/";
    golden g;
    for (float s : read_floats(dir + "sigmas.f32", steps + 1)) g.sigmas.push_back(s);
    g.target = read_floats(dir + "target.f32", channels);
    g.original = read_floats(dir + "original.f32", canvas_elements);
    g.x_start = read_floats(dir + "x_start.f32", canvas_elements);
    g.x_trace = read_floats(dir + "x_trace.f32", steps * canvas_elements);
    g.denoised_trace = read_floats(dir + "denoised_trace.f32", steps * canvas_elements);
    g.final_state = read_floats(dir + "final.f32", canvas_elements);
    return g;
}

/// Calls f(run, golden, quadtree) for each of the six runs.
template <class F>
void for_each_run(F&& f) {
    for (const seed_run& run : seed_runs()) {
        CAPTURE(run.folder);
        const golden g = read_golden(run.folder);
        f(run, g, seed_quadtree(run.folder, run.min_denoise));
    }
}

field::field_options seed_options(const std::vector<double>& sigmas) {
    field::field_options options;
    options.sigmas = sigmas;
    options.tile_batch_size = 4;
    options.weights = blend::weight_params{blend::weight_kind::uniform, 0.01f};
    return options;
}

/// Runs the golden schedule with Euler from x_start under `policy`; calls check(step, state before it) for
/// each step and returns the final state.
template <class Policy, class Check>
host_tensor run_euler(const tile::layout& layout, const golden& g, const Policy& policy, prediction::kind kind,
                      Check&& check) {
    auto model = constant_target_model(g.target, kind);
    const const_view original(g.original.data(), canvas);
    field::tiled_field field(model, layout, canvas, policy, seed_options(g.sigmas), original);
    host_tensor x(canvas);
    std::copy(g.x_start.begin(), g.x_start.end(), x.data());
    check(0, const_view(x.cview()));
    sampler::euler euler;
    sampler::sample(euler, field, x.view(), g.sigmas, [&](const sampler::step_info& info) {
        if (info.step + 1 < steps) check(info.step + 1, info.x);
        return true;
    });
    return x;
}

/// Canvas element indices (C x H x W) of the cores of the layout's tiles of strength d.
std::vector<std::size_t> elements_of_tiles_with_strength(const tile::layout& layout, double d) {
    std::vector<std::size_t> at;
    for (const tile::layout_tile& t : layout.tiles) {
        if (t.strength != d) continue;
        for (std::int64_t c = 0; c < channels; ++c)
            for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
                for (std::int64_t x = t.core.x; x < t.core.right(); ++x)
                    at.push_back(static_cast<std::size_t>((c * latent_side + y) * latent_side + x));
    }
    return at;
}

}  // namespace

TEST_CASE("the runs' quadtrees equal quadflow's built from their rgb.u8 (193 leaves, the seed's denoise)") {
    for (const seed_run& run : seed_runs()) {
        CAPTURE(run.folder);
        const std::vector<leaf> leaves = read_leaves(data_dir + run.folder + "/leaves.txt");
        const tile::layout layout = seed_quadtree(run.folder, run.min_denoise);
        REQUIRE(leaves.size() == 193);
        REQUIRE(layout.tiles.size() == leaves.size());
        REQUIRE(layout.width == latent_side);
        for (std::size_t i = 0; i < leaves.size(); ++i) {
            CAPTURE(i);
            const tile::layout_tile& t = layout.tiles[i];
            CHECK(t.pixel_core.x == leaves[i].x);
            CHECK(t.pixel_core.y == leaves[i].y);
            CHECK(t.pixel_core.w == leaves[i].w);
            CHECK(t.pixel_core.h == leaves[i].h);
            CHECK(t.depth == leaves[i].depth);
            CHECK(t.strength == doctest::Approx(leaves[i].denoise).epsilon(1e-12));
        }
    }
}

TEST_CASE("the runs' sampled schedules are ComfyUI's simple FLUX schedule (shift 1.15) truncated by KSampler denoise") {
    for (const seed_run& run : seed_runs()) {
        CAPTURE(run.folder);
        const golden g = read_golden(run.folder);
        const std::vector<double> expected =
            schedule::comfy_denoise([](int n) { return schedule::comfy_simple(n, 1.15); }, steps, run.ksampler_denoise);
        REQUIRE(expected.size() == g.sigmas.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            CHECK(g.sigmas[i] == doctest::Approx(expected[i]).epsilon(1e-6));
    }
}

TEST_CASE("seed_ramp and seed_scale reproduce every step of the real runs to 1e-5, whatever kind the model returns") {
    for_each_run([&](const seed_run& run, const golden& g, const tile::layout& layout) {
        for (prediction::kind kind : {prediction::kind::denoised, prediction::kind::flow_velocity}) {
            CAPTURE(prediction::to_string(kind));
            float worst_state = 0.0f;
            std::visit(
                [&](const auto& policy) {
                    const host_tensor result = run_euler(layout, g, policy, kind, [&](int step, const_view x) {
                        worst_state = std::max(
                            worst_state,
                            max_abs_difference(x.data(), g.x_trace.data() + step * canvas_elements, canvas_elements));
                    });
                    const float worst_final = max_abs_difference(result.data(), g.final_state.data(), canvas_elements);
                    CHECK(worst_final <= 1e-5f);
                },
                run.code);
            CHECK(worst_state <= 1e-5f);
        }
    });
}

TEST_CASE("seed_ramp and seed_scale hand the sampler the denoised estimate the seed returned, at every step") {
    for_each_run([&](const seed_run& run, const golden& g, const tile::layout& layout) {
        std::visit(
            [&](const auto& policy) {
                auto model = constant_target_model(g.target, prediction::kind::denoised);
                field::tiled_field field(model, layout, canvas, policy, seed_options(g.sigmas),
                                         const_view(g.original.data(), canvas));
                host_tensor velocity(canvas);
                for (int i = 0; i < steps; ++i) {
                    CAPTURE(i);
                    const const_view x(g.x_trace.data() + i * canvas_elements, canvas);
                    field.on_step(i, g.sigmas[static_cast<std::size_t>(i)], g.sigmas[static_cast<std::size_t>(i) + 1]);
                    field(x, g.sigmas[static_cast<std::size_t>(i)], velocity.view());
                    const auto sigma = static_cast<float>(g.sigmas[static_cast<std::size_t>(i)]);
                    float worst = 0.0f;
                    for (std::size_t e = 0; e < canvas_elements; ++e) {
                        const float denoised = x.data()[e] - sigma * velocity.data()[e];
                        worst = std::max(worst, std::abs(denoised - g.denoised_trace[i * canvas_elements + e]));
                    }
                    CHECK(worst <= 1e-5f);
                }
            },
            run.code);
    });
}

TEST_CASE("the seed document's velocity reading is not what the code runs: the measured difference") {
    for_each_run([&](const seed_run& run, const golden& g, const tile::layout& layout) {
        std::visit(
            [&](const auto& policy) {
                const host_tensor result =
                    run_euler(layout, g, policy, prediction::kind::denoised, [](int, const_view) {});
                const float difference = max_abs_difference(result.data(), g.final_state.data(), canvas_elements);
                CHECK(difference == doctest::Approx(run.document_difference).epsilon(0.01));
            },
            run.document);
    });
}

TEST_CASE("what the seed's code does to a d = 0 tile: 98e3cbf ends at (N-1)/N x0_hat, HEAD's ramp adds (x0 - x)/N") {
    constexpr float last_weight = static_cast<float>(steps - 1) / steps;
    for (const std::string folder : {"98e3cbf_scale_denoise0.75_min0", "head_ramp_denoise0.75_min0"}) {
        CAPTURE(folder);
        const golden g = read_golden(folder);
        const tile::layout layout = seed_quadtree(folder, 0.0);
        const std::vector<std::size_t> zero_tiles = elements_of_tiles_with_strength(layout, 0.0);
        REQUIRE(zero_tiles.size() == 2 * 4 * 4 * channels);  // the two 32 px leaves
        const float* before_last = g.x_trace.data() + (steps - 1) * canvas_elements;
        float worst = 0.0f, farthest_from_original = 0.0f;
        for (std::size_t e : zero_tiles) {
            const float x0_hat = g.target[e / (latent_side * latent_side)];
            float expected = last_weight * x0_hat;
            if (folder.rfind("head", 0) == 0) expected += (g.original[e] - before_last[e]) / steps;
            worst = std::max(worst, std::abs(g.final_state[e] - expected));
            farthest_from_original = std::max(farthest_from_original, std::abs(g.final_state[e] - g.original[e]));
        }
        CHECK(worst <= 1e-5f);
        CHECK(farthest_from_original > 0.5f);  // not kept: the tile is regenerated toward the model's estimate
    }
}

TEST_CASE("seed_floor (before 98e3cbf) ends a d = 0 tile at (0.70 + 0.30 (N-1)/N) x0_hat and a d = 1 tile at x0_hat") {
    const golden g = read_golden("head_ramp_denoise0.75_min0");
    tile::layout layout = seed_quadtree("head_ramp_denoise0.75_min0", 0.0);
    for (tile::layout_tile& t : layout.tiles)
        if (t.strength > 0.0) t.strength = 1.0;
    const host_tensor result =
        run_euler(layout, g, policy::seed_floor{}, prediction::kind::denoised, [](int, const_view) {});
    const float zero_weight = 0.70f + 0.30f * static_cast<float>(steps - 1) / steps;
    float worst_zero = 0.0f, worst_one = 0.0f;
    for (std::size_t e : elements_of_tiles_with_strength(layout, 0.0))
        worst_zero = std::max(worst_zero, std::abs(result.data()[e] - zero_weight * g.target[e / 256]));
    for (std::size_t e : elements_of_tiles_with_strength(layout, 1.0))
        worst_one = std::max(worst_one, std::abs(result.data()[e] - g.target[e / 256]));
    CHECK(worst_zero <= 1e-5f);
    CHECK(worst_one <= 1e-5f);
}

TEST_CASE("the seed's skip path writes x0 - x as the denoised estimate: the tile is pulled toward x0 / 2") {
    const golden g = read_golden("head_ramp_denoise0.75");
    const tile::layout layout = seed_quadtree("head_ramp_denoise0.75", 0.2);
    // skip_diffusion_below = 16 px: the 180 leaves of 8 px never reach the model.
    const auto skipping = policy::with_skip_below<policy::seed_ramp>(16);
    std::int64_t skipped_sent = 0, sent = 0;
    auto model = model::make_model(prediction::kind::denoised, [&](const model::batch_request& r, mutable_view out) {
        for (const model::tile_info& t : r.tiles) {
            ++sent;
            if (std::min(t.core.w, t.core.h) * 8 < 16) ++skipped_sent;
        }
        const std::int64_t plane = r.x.shape().h * r.x.shape().w;
        for (std::int64_t i = 0; i < out.numel(); ++i)
            out.data()[i] = g.target[static_cast<std::size_t>((i / plane) % channels)];
    });
    field::tiled_field field(model, layout, canvas, skipping, seed_options(g.sigmas),
                             const_view(g.original.data(), canvas));
    host_tensor x(canvas);
    std::copy(g.x_start.begin(), g.x_start.end(), x.data());
    sampler::euler euler;
    sampler::sample(euler, field, x.view(), g.sigmas);
    CHECK(skipped_sent == 0);
    CHECK(sent == 13 * steps);
    // The velocity of D = x0 - x is (2x - x0) / sigma: each Euler step multiplies y = x - x0/2 by 2 sigma'/sigma - 1.
    double factor = 1.0;
    for (int i = 0; i < steps; ++i) factor *= 2.0 * g.sigmas[static_cast<std::size_t>(i) + 1] / g.sigmas[i] - 1.0;
    std::int64_t skipped_elements = 0;
    double worst = 0.0;
    for (const tile::layout_tile& t : layout.tiles) {
        if (t.pixel_core.w >= 16) continue;
        for (std::int64_t c = 0; c < channels; ++c) {
            const auto e = static_cast<std::size_t>((c * latent_side + t.core.y) * latent_side + t.core.x);
            const double half = 0.5 * g.original[e];
            worst = std::max(worst, std::abs(x.data()[e] - (half + factor * (g.x_start[e] - half))));
            ++skipped_elements;
        }
    }
    CHECK(skipped_elements == 180 * channels);
    CHECK(std::abs(factor) < 0.1);
    CHECK(worst <= 1e-5);
}

TEST_CASE("seed_ramp without an original runs HEAD's txt2img fallback: D = s x0_hat, s >= 0.70") {
    policy::tile_context t;
    t.strength = 0.0f;
    t.total_steps = 8;
    t.sigma = 0.5f;
    t.has_original = false;
    const policy::seed_ramp ramp;
    for (int i = 0; i < 8; ++i) {
        t.sigma_index = i;
        const float expected = std::clamp(0.70f + 0.30f * std::min(1.0f, static_cast<float>(i) / 8.0f), 0.70f, 1.0f);
        CHECK(ramp.denoised(t, {2.0f, 0.3f, 0.0f}) == doctest::Approx(2.0f * expected));
    }
    t.has_original = true;
    t.sigma_index = 2;
    // b = 0 + 1 * 2/8: D = 0.25 * 2 + 0.75 * (0.5 - 0.3)
    CHECK(ramp.denoised(t, {2.0f, 0.3f, 0.5f}) == doctest::Approx(0.25f * 2.0f + 0.75f * 0.2f));
    t.strength = 1.0f;  // the seed leaves d = 1 tiles alone
    CHECK(ramp.denoised(t, {2.0f, 0.3f, 0.5f}) == 2.0f);
    CHECK(policy::seed_floor{}.denoised(t, {2.0f, 0.3f, 0.5f}) == 2.0f);
    CHECK(policy::seed_scale{}.denoised(t, {2.0f, 0.3f, 0.5f}) == 2.0f);
}

TEST_CASE("the seed_* policies need the schedule; they are listed by parse_policy and act in the denoised slot") {
    static_assert(policy::acts_on_v<policy::seed_ramp> == policy::prediction_slot::denoised);
    static_assert(policy::acts_on_v<policy::progress_ramp> == policy::prediction_slot::flow_velocity);
    CHECK(std::holds_alternative<policy::seed_floor>(policy::parse_policy("seed_floor")));
    auto model = model::make_model(prediction::kind::denoised, [](const model::batch_request&, mutable_view) {});
    const tile::layout layout = seed_quadtree("head_ramp_denoise1.0", 0.2);
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::seed_ramp{}, field::field_options{}),
                         "field_options.sigmas.size() = 0: the seed_ramp policy needs the schedule being sampled",
                         invalid_argument);
}

TEST_CASE("nearest_sigma_index is the seed's find_nearest: argmin |sigmas - sigma|, the first of equals") {
    const std::vector<double> sigmas{1.0, 0.5, 0.5, 0.25, 0.0};
    CHECK(field::detail::nearest_sigma_index(sigmas, 1.0) == 0);
    CHECK(field::detail::nearest_sigma_index(sigmas, 0.5) == 1);
    CHECK(field::detail::nearest_sigma_index(sigmas, 0.3) == 3);
    CHECK(field::detail::nearest_sigma_index(sigmas, 0.375) == 1);  // a tie between 0.5 and 0.25: the first
    CHECK(field::detail::nearest_sigma_index({}, 0.3) == 0);
}
