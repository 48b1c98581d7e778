// Tests of the CUDA path: cuda::device_tiled_field against field::tiled_field for every policy, weight kind and
// prediction kind on grid and quadtree layouts, exact preservation after a device Euler run, bit-identical
// reruns, no allocation per step, CUDA and model errors. `--host-only` runs the checks that need no GPU;
// otherwise the program exits 77 ("no CUDA device: skipped") when there is no GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cuda_fixtures.cuh"
#include "cuda_test_main.cuh"
#include "field_fixtures.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/device_field.cuh"
#include "quadflow/cuda/device_tensor.cuh"
#include "quadflow/cuda/error.cuh"
#include "quadflow/cuda/euler.cuh"
#include "quadflow/field/blend_plan.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/policy/seed_code.hpp"
#include "quadflow/sampler/euler_math.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/testing/gaussian_model.cuh"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/quadtree.hpp"

#include "counting_allocator.hpp"  // every operator new in the host code bumps `allocations`

using namespace quadflow;
using fixtures::wavy;
using namespace cuda_fixtures;

namespace {

/// A grid that does not divide the canvas evenly, with pseudo-random strengths (some exactly 0 and 1).
tile::layout random_grid(std::uint32_t seed) {
    tile::layout l = tile::build_grid(70, 54, {.tile = 24, .overlap_latent = 6, .latent_scale = 8});
    std::mt19937 random(seed);
    for (tile::layout_tile& t : l.tiles) t.strength = std::min(1.0, std::max(0.0, (int(random() % 13) - 1) / 10.0));
    return l;
}

/// A grid whose tiles overlap so much that a pixel has up to 49 covering tiles and a blend block's list
/// holds more than 64 (the blend kernel's window): its multi-window, multi-flush path.
tile::layout dense_grid() {
    tile::layout l = tile::build_grid(93, 70, {.tile = 24, .overlap_latent = 20, .latent_scale = 8});
    std::mt19937 random(11);
    for (tile::layout_tile& t : l.tiles) t.strength = (int(random() % 11)) / 10.0;
    return l;
}

/// Per-pixel strengths in [0, 1] for the mask policy (1 x 1 x H x W).
host_tensor strength_map_for(const tile::layout& l) {
    host_tensor m(shape4{1, 1, l.height, l.width});
    for (std::int64_t y = 0; y < l.height; ++y)
        for (std::int64_t x = 0; x < l.width; ++x)
            m(0, 0, y, x) = 0.5f + 0.5f * std::sin(0.37f * float(x) + 0.23f * float(y));
    return m;
}

/// max |a - b| / max |b|.
double relative_difference(const host_tensor& a, const host_tensor& b) {
    double worst = 0, scale = 0;
    for (std::int64_t i = 0; i < b.numel(); ++i) {
        worst = std::max(worst, std::abs(double(a.span()[i]) - double(b.span()[i])));
        scale = std::max(scale, std::abs(double(b.span()[i])));
    }
    return scale > 0 ? worst / scale : worst;
}

/// A device model that runs model::gaussian_model on host copies of its batch: its predictions are the CPU
/// model's bit for bit (a device kernel may contract a * b + c into an FMA), so a comparison of the two
/// fields measures the fields alone.
class host_forwarding_model {
public:
    explicit host_forwarding_model(model::gaussian_model& cpu) : cpu_(&cpu) {}
    prediction::kind prediction_kind() const { return cpu_->prediction_kind(); }
    void operator()(const model::batch_request& request, mutable_view out, cudaStream_t stream) {
        host_tensor x(request.x.shape()), prediction(out.shape());
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(x.data(), request.x.data(), sizeof(float) * std::size_t(x.numel()),
                                            cudaMemcpyDeviceToHost, stream));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
        (*cpu_)(model::batch_request{x.cview(), request.sigma, request.step, request.tiles, request.canvas, {}},
                prediction.view());
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(out.data(), prediction.data(), sizeof(float) * std::size_t(x.numel()),
                                            cudaMemcpyHostToDevice, stream));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
    }

private:
    model::gaussian_model* cpu_;
};
static_assert(cuda::device_tile_model<host_forwarding_model>);

/// Most tiles covering one canvas pixel.
int most_covering(const tile::layout& layout) {
    int most = 0;
    for (std::int64_t y = 0; y < layout.height; ++y)
        for (std::int64_t x = 0; x < layout.width; ++x) {
            int covering = 0;
            for (const tile::layout_tile& t : layout.tiles) covering += t.padded.contains(x, y) ? 1 : 0;
            most = std::max(most, covering);
        }
    return most;
}

/// The parity bound for a layout: 1e-6 relative, or, where more tiles cover a pixel than 1e-6 allows for, what
/// two float sums of that many terms in different orders may differ by (n x 2^-24 each; the CPU adds
/// normalised weights in rank order, the GPU raw weights in index order times 1 / (sum of weights)).
double parity_bound(const tile::layout& layout) {
    return std::max(1e-6, 2.0 * most_covering(layout) * std::ldexp(1.0, -24));
}

/// Evaluates the CPU and the CUDA field at three steps of a schedule and compares the velocities and stats.
template <class P>
void check_parity(const tile::layout& layout, blend::weight_kind weights, P policy, prediction::kind kind) {
    const shape4 canvas{2, 5, layout.height, layout.width};
    const canvas_inputs in(canvas);
    const bool masked = std::string_view(P::name) == "mask";
    const host_tensor strengths = strength_map_for(layout);
    const std::vector<double> sigmas = schedule::flux(12, 512, 512);
    const field::field_options options = options_for(sigmas, weights);

    model::gaussian_model cpu_model(in.target.cview(), 0.3, kind);
    field::tiled_field cpu(cpu_model, layout, canvas, policy, options, in.original.cview(),
                           masked ? strengths.cview() : const_view{});

    test_stream stream;
    const cuda::device_tensor original(in.original, stream), mask(strengths, stream);
    model::gaussian_model forwarded(in.target.cview(), 0.3, kind);
    host_forwarding_model gpu_model(forwarded);
    cuda::device_tiled_field gpu(gpu_model, layout, canvas, policy, options, stream, original.cview(),
                                 masked ? mask.cview() : const_view{});

    for (int step : {1, 5, 10}) {
        CAPTURE(step);
        host_tensor x(canvas), v(canvas);
        sampler::noised_original(in.original.cview(), in.noise.cview(), sigmas[step], x.view());
        cuda::device_tensor x_device(x, stream), v_device(canvas);
        cpu.on_step(step, sigmas[step], sigmas[step + 1]);
        gpu.on_step(step, sigmas[step], sigmas[step + 1]);
        cpu(x.cview(), sigmas[step], v.view());
        gpu(x_device.cview(), sigmas[step], v_device.view());
        const double difference = relative_difference(v_device.download(stream), v), bound = parity_bound(layout);
        CAPTURE(difference);
        CAPTURE(bound);
        CHECK(difference <= bound);
    }
    CHECK(gpu.stats().evaluations == cpu.stats().evaluations);
    CHECK(gpu.stats().model_calls == cpu.stats().model_calls);
    CHECK(gpu.stats().calls_saved == cpu.stats().calls_saved);
    CHECK(gpu.stats().tiles_evaluated == cpu.stats().tiles_evaluated);
    CHECK(gpu.stats().tile_pixels == cpu.stats().tile_pixels);
}

/// The same run on the CPU field, Euler steps written out (sampler::euler_update per element).
template <class P>
host_tensor run_host(const tile::layout& layout, P policy, const std::vector<double>& sigmas, const canvas_inputs& in,
                     shape4 canvas, const field::field_options& options) {
    model::gaussian_model model(in.target.cview(), 0.1, prediction::kind::denoised);
    field::tiled_field field(model, layout, canvas, policy, options, in.original.cview());
    host_tensor x(canvas), v(canvas);
    sampler::noised_original(in.original.cview(), in.noise.cview(), sigmas.front(), x.view());
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        field.on_step(static_cast<int>(i), sigmas[i], sigmas[i + 1]);
        field(x.cview(), sigmas[i], v.view());
        const float dt = static_cast<float>(sigmas[i + 1] - sigmas[i]);
        for (std::int64_t e = 0; e < x.numel(); ++e) x.span()[e] = sampler::euler_update(x.span()[e], v.span()[e], dt);
    }
    return x;
}

/// Largest |a - b| over the pixels whose covering tiles all satisfy `preserved` (every channel and image).
template <class Predicate>
double error_where_only(const host_tensor& a, const host_tensor& b, const tile::layout& l, Predicate preserved) {
    double worst = 0;
    std::int64_t pixels = 0;
    for (std::int64_t y = 0; y < l.height; ++y)
        for (std::int64_t x = 0; x < l.width; ++x) {
            bool only = true;
            for (const tile::layout_tile& t : l.tiles)
                if (t.padded.contains(x, y) && !preserved(t)) only = false;
            if (!only) continue;
            ++pixels;
            for (std::int64_t n = 0; n < a.shape().n; ++n)
                for (std::int64_t c = 0; c < a.shape().c; ++c)
                    worst = std::max(worst, std::abs(double(a(n, c, y, x)) - double(b(n, c, y, x))));
        }
    REQUIRE(pixels > 0);
    return worst;
}

}  // namespace

TEST_SUITE("host") {
    TEST_CASE("cuda_error names the failed call, file:line and CUDA's message") {
        CHECK_THROWS_WITH_AS(
            cuda::check(cudaErrorInvalidValue, "cudaMemcpy(dst, src, 16, cudaMemcpyHostToDevice)", "engine.cu", 42),
            "cudaMemcpy(dst, src, 16, cudaMemcpyHostToDevice) failed at engine.cu:42: invalid argument "
            "(cudaErrorInvalidValue)",
            cuda_error);
        std::string message;
        try {
            QUADFLOW_CUDA_CHECK(cudaErrorMemoryAllocation);
        } catch (const cuda_error& e) {
            message = e.what();
        }
        CHECK(message.find("cudaErrorMemoryAllocation failed at ") == 0);
        CHECK(message.find("test_cuda_field.cu:") != std::string::npos);
        CHECK(message.find(cudaGetErrorString(cudaErrorMemoryAllocation)) != std::string::npos);
        CHECK_NOTHROW(QUADFLOW_CUDA_CHECK(cudaSuccess));
    }

    TEST_CASE("cuda::noised_original checks its views as sampler::noised_original does, before any launch") {
        // Views labelled as device memory over host buffers: every check fails before the kernel would run.
        host_tensor a(shape4{1, 2, 4, 4}, 0.5f), b(shape4{1, 2, 4, 4}, -1.0f), out(shape4{1, 2, 4, 4}),
            small(shape4{1, 2, 4, 2});
        const const_view original(a.data(), a.shape(), memory_space::device),
            noise(b.data(), b.shape(), memory_space::device);
        const mutable_view x(out.data(), out.shape(), memory_space::device);
        cudaStream_t stream = nullptr;
        CHECK_THROWS_WITH_AS(cuda::noised_original(a.cview(), noise, 0.5, x, stream),
                             doctest::Contains("original is a host view"), shape_error);
        CHECK_THROWS_WITH_AS(cuda::noised_original(original, noise, 0.5, out.view(), stream),
                             doctest::Contains("output is a host view"), shape_error);
        CHECK_THROWS_WITH_AS(
            cuda::noised_original(original, const_view(small.data(), small.shape(), memory_space::device), 0.5, x,
                                  stream),
            "noise has shape [1, 2, 4, 2] but original has shape [1, 2, 4, 4]", shape_error);
        CHECK_THROWS_WITH_AS(cuda::noised_original(original, noise, 1.5, x, stream), "sigma = 1.5: must be in [0, 1]",
                             invalid_argument);
        // The CPU function gives the same errors for the same arguments on the host.
        CHECK_THROWS_WITH_AS(sampler::noised_original(a.cview(), small.cview(), 0.5, out.view()),
                             "noise has shape [1, 2, 4, 2] but original has shape [1, 2, 4, 4]", shape_error);
        CHECK_THROWS_WITH_AS(sampler::noised_original(a.cview(), b.cview(), 1.5, out.view()),
                             "sigma = 1.5: must be in [0, 1]", invalid_argument);
    }

    TEST_CASE("the test layouts give blend tables that hold the blend plan's weights") {
        for (const tile::layout& layout : {random_grid(1), synthetic_quadtree()}) {
            const field::blend_plan plan(layout, {blend::weight_kind::gaussian, 0.01f});
            const cuda::blend_tables tables = cuda::build_blend_tables(layout, plan);
            REQUIRE(tables.tiles.size() == layout.tiles.size());
            for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
                const cuda::device_tile& d = tables.tiles[t];
                CHECK(rect{d.x, d.y, d.w, d.h} == layout.tiles[t].padded);
                for (std::int32_t i = 0; i < d.h; ++i)
                    CHECK(tables.axis_weights[d.row_weights + i] == plan.row_weights(t)[i]);
                for (std::int32_t i = 0; i < d.w; ++i)
                    CHECK(tables.axis_weights[d.column_weights + i] == plan.column_weights(t)[i]);
            }
            CHECK(tables.inverse_weight_sum == plan.inverse_weight_sum());
            CHECK(tables.coverage.blocks_x == (layout.width + 31) / 32);
        }
        // The dense grid reaches the kernel's multi-window and multi-flush paths.
        const tile::layout dense = dense_grid();
        const cuda::blend_tables dense_tables =
            cuda::build_blend_tables(dense, field::blend_plan(dense, {blend::weight_kind::gaussian, 0.01f}));
        std::int32_t longest_list = 0;
        for (std::size_t b = 0; b + 1 < dense_tables.coverage.offsets.size(); ++b)
            longest_list =
                std::max(longest_list, dense_tables.coverage.offsets[b + 1] - dense_tables.coverage.offsets[b]);
        CHECK(longest_list > cuda::blend_tuning::window);
        CHECK(most_covering(dense) > cuda::blend_tuning::picks);
        // The issue's layouts keep the 1e-6 parity bound; the dense grid's sums of up to 49 terms get 5.8e-6.
        CHECK(parity_bound(random_grid(3)) == 1e-6);
        CHECK(parity_bound(synthetic_quadtree()) == 1e-6);
        CHECK(parity_bound(dense) < 1e-5);
        const tile::layout quadtree = synthetic_quadtree();
        CHECK(quadtree.width == 64);
        CHECK(quadtree.height == 48);
        CHECK(quadtree.tiles.size() > 20);
        const bool reaches_outside =
            std::any_of(quadtree.tiles.begin(), quadtree.tiles.end(),
                        [](const tile::layout_tile& t) { return t.padded.x < 0 || t.padded.y < 0; });
        CHECK(reaches_outside);
    }
}

TEST_SUITE("device") {
    TEST_CASE("the CUDA field equals the CPU field for every policy, weight kind and prediction kind") {
        const std::vector<tile::layout> layouts{random_grid(3), synthetic_quadtree(), dense_grid()};
        const blend::weight_kind weight_kinds[] = {blend::weight_kind::uniform, blend::weight_kind::gaussian,
                                                   blend::weight_kind::smootherstep};
        const prediction::kind kinds[] = {prediction::kind::flow_velocity, prediction::kind::denoised,
                                          prediction::kind::t_velocity, prediction::kind::epsilon};
        int combination = 0;
        for (std::size_t l = 0; l < layouts.size(); ++l)
            for (blend::weight_kind weights : weight_kinds) {
                CAPTURE(l);
                CAPTURE(blend::to_string(weights));
                auto check = [&](auto policy, const char* name) {
                    const prediction::kind kind = kinds[combination++ % 4];
                    const std::string policy_name = name;
                    CAPTURE(policy_name);
                    CAPTURE(prediction::to_string(kind));
                    check_parity(layouts[l], weights, policy, kind);
                };
                check(policy::scale{}, "scale");
                check(policy::floor{}, "floor");
                check(policy::preservation_blend{policy::preservation::naive, 0.7f}, "preservation_blend naive");
                check(policy::preservation_blend{policy::preservation::exact, 0.7f}, "preservation_blend exact");
                check(policy::skip{policy::preservation::exact, 48, 0.25f}, "skip");
                check(policy::strength{}, "strength");
                check(policy::mask{}, "mask");
                check(policy::progress_ramp{}, "progress_ramp");
                check(policy::seed_scale{}, "seed_scale");
                check(policy::with_skip_below<policy::seed_floor>(48), "seed_floor with skip_below");
                check(policy::with_skip_below<policy::seed_ramp>(48), "seed_ramp with skip_below");
            }
    }

    TEST_CASE("testing::device_gaussian_model predicts what model::gaussian_model predicts") {
        const synthetic_device_case device_case;
        const auto& [layout, canvas, in, stream, target] = device_case;
        // Two tiles of one padded shape, one of them reaching past the canvas (reflected reads of the target).
        const tile::layout_tile& a = layout.tiles.front();
        const auto same_shape = std::find_if(
            layout.tiles.begin() + 1, layout.tiles.end(),
            [&](const tile::layout_tile& t) { return t.padded.w == a.padded.w && t.padded.h == a.padded.h; });
        REQUIRE(same_shape != layout.tiles.end());
        REQUIRE((a.padded.x < 0 && a.padded.y < 0));
        const std::vector<model::tile_info> tiles{field::detail::tile_info_of(a, 8, 0),
                                                  field::detail::tile_info_of(*same_shape, 8, 0)};
        const shape4 batch{2, 3, a.padded.h, a.padded.w};
        const host_tensor x = wavy(batch, 1.2f, 0.9f);
        const cuda::device_tensor x_device(x, stream);
        for (prediction::kind kind : {prediction::kind::flow_velocity, prediction::kind::denoised,
                                      prediction::kind::t_velocity, prediction::kind::epsilon}) {
            CAPTURE(prediction::to_string(kind));
            model::gaussian_model cpu(in.target.cview(), 0.3, kind);
            testing::device_gaussian_model gpu(target.cview(), 0.3, kind);
            host_tensor expected(batch);
            cuda::device_tensor predicted(batch);
            cpu(model::batch_request{x.cview(), 0.4, 3, tiles, {}, {}}, expected.view());
            gpu(model::batch_request{x_device.cview(), 0.4, 3, tiles, {}, {}}, predicted.view(), stream);
            CHECK(relative_difference(predicted.download(stream), expected) <= 1e-6);
        }
        CHECK(testing::device_gaussian_model(target.cview(), 0.3).prediction_kind() == prediction::kind::flow_velocity);
    }

    TEST_CASE("exact preservation stays exact after a device Euler run, and the run matches the CPU one") {
        const std::vector<double> sigmas = schedule::flux(12, 512, 512);
        auto preserved = [](const tile::layout_tile& t) { return t.strength == 0.0; };
        auto check_all = [&](const tile::layout& layout, shape4 canvas, auto policy, const char* name) {
            CAPTURE(name);
            const canvas_inputs in(canvas);
            const field::field_options options = options_for(sigmas, blend::weight_kind::gaussian);
            const host_tensor device = run_device(layout, policy, sigmas, in, canvas, options);
            CHECK(error_where_only(device, in.original, layout, preserved) <= 1e-5);
            const host_tensor host = run_host(layout, policy, sigmas, in, canvas, options);
            CHECK(relative_difference(device, host) <= 1e-5);
            // The regenerated tiles moved toward the prompt target, away from the original.
            CHECK(
                metrics::tile_region_error(device.cview(), in.original.cview(), layout, [](const tile::layout_tile& t) {
                    return t.strength == 1.0;
                }).mean > 0.3);
        };
        // Left column preserved (d = 0), right column regenerated (d = 1), no overlap: cores are pure.
        const tile::layout columns = fixtures::grid_layout(2, 2, 8, 0, {0.0, 1.0});
        // The quadtree with overlap: preserved where only d = 0 tiles reach.
        tile::layout quadtree = synthetic_quadtree();
        for (tile::layout_tile& t : quadtree.tiles) t.strength = t.core.x < quadtree.width / 2 ? 0.0 : 1.0;
        for (const auto& [layout, canvas] : {std::pair{columns, shape4{1, 3, 16, 16}},
                                             std::pair{quadtree, shape4{1, 4, quadtree.height, quadtree.width}}}) {
            check_all(layout, canvas, policy::preservation_blend{policy::preservation::exact, 0.7f},
                      "preservation_blend exact");
            check_all(layout, canvas, policy::skip{policy::preservation::exact, 0, 0.0f}, "skip d <= 0");
            check_all(layout, canvas, policy::strength{}, "strength");
        }
    }

    TEST_CASE("reruns and any tile_batch_size give bit-identical output") {
        const tile::layout layout = synthetic_quadtree();
        const shape4 canvas{2, 5, layout.height, layout.width};
        const canvas_inputs in(canvas);
        const std::vector<double> sigmas = schedule::flux(10, 512, 512);
        auto run = [&](int batch) {
            return run_device(layout, policy::strength{}, sigmas, in, canvas,
                              options_for(sigmas, blend::weight_kind::gaussian, batch));
        };
        const host_tensor reference = run(4);
        CHECK(same_bits(reference, run(4)));
        for (int batch : {1, 3, 1000}) {
            CAPTURE(batch);
            CHECK(same_bits(reference, run(batch)));
        }
    }

    TEST_CASE("steady state allocates nothing per step, on the host or the device") {
        const tile::layout layout = synthetic_quadtree();
        const shape4 canvas{1, 4, layout.height, layout.width};
        const canvas_inputs in(canvas);
        const std::vector<double> sigmas = schedule::flux(10, 512, 512);
        test_stream stream;
        const cuda::device_tensor original(in.original, stream), target(in.target, stream);
        cuda::device_tensor x(in.noise, stream);
        testing::device_gaussian_model model(target.cview(), 0.2);
        cuda::device_tiled_field field(model, layout, canvas, policy::strength{},
                                       options_for(sigmas, blend::weight_kind::gaussian), stream, original.cview());
        cuda::euler euler(stream);
        euler.reset(canvas);
        field.on_step(0, sigmas[0], sigmas[1]);
        euler.step(field, x.view(), sigmas[0], sigmas[1]);  // warm-up
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
        std::size_t free_before = 0, free_after = 0, total = 0;
        QUADFLOW_CUDA_CHECK(cudaMemGetInfo(&free_before, &total));
        const long before = allocations.load();
        for (int i = 1; i < 9; ++i) {
            field.on_step(i, sigmas[i], sigmas[i + 1]);
            euler.step(field, x.view(), sigmas[i], sigmas[i + 1]);
        }
        CHECK(allocations.load() - before == 0);
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
        QUADFLOW_CUDA_CHECK(cudaMemGetInfo(&free_after, &total));
        CHECK(free_after == free_before);
    }

    TEST_CASE("a failed CUDA call becomes cuda_error with the call, file:line and CUDA's message") {
        const float values[4] = {1, 2, 3, 4};
        std::string message;
        try {
            QUADFLOW_CUDA_CHECK(cudaMemcpy(nullptr, values, sizeof values, cudaMemcpyHostToDevice));
        } catch (const cuda_error& e) {
            message = e.what();
        }
        CAPTURE(message);
        CHECK(message.find("cudaMemcpy(nullptr, values, sizeof values, cudaMemcpyHostToDevice) failed at ") == 0);
        CHECK(message.find("test_cuda_field.cu:") != std::string::npos);
        CHECK(message.find("invalid argument") != std::string::npos);
        CHECK(cudaGetLastError() == cudaSuccess);  // cleared: later launch checks do not report it again
    }

    TEST_CASE("bad input and failing models get the CPU field's errors") {
        const tile::layout layout = fixtures::grid_layout(2, 2, 8, 0, {0.5});
        constexpr shape4 canvas{1, 3, 16, 16};
        const canvas_inputs in(canvas);
        const std::vector<double> sigmas = schedule::flux(4, 512, 512);
        const field::field_options options = options_for(sigmas, blend::weight_kind::gaussian);
        test_stream stream;
        const cuda::device_tensor original(in.original, stream), target(in.target, stream);
        testing::device_gaussian_model model(target.cview(), 0.2);
        // The model_error message of a whole run on `field`, or "" when it ends without one.
        auto model_error_of = [&](auto& field) {
            cuda::device_tensor x(in.noise, stream);
            cuda::euler euler(stream);
            try {
                cuda::sample(euler, field, x.view(), sigmas);
            } catch (const model_error& e) {
                return std::string(e.what());
            }
            return std::string();
        };

        SUBCASE("a model that returns NaN names the tile and the step") {
            auto broken = cuda::make_device_model(
                prediction::kind::flow_velocity, [](const model::batch_request& r, mutable_view out, cudaStream_t s) {
                    const std::int64_t item = out.numel() / out.shape().n;
                    for (std::int64_t b = 0; b < out.shape().n; ++b) {
                        const bool nan = r.tiles[static_cast<std::size_t>(b)].id == 3 && r.step == 2;
                        QUADFLOW_CUDA_CHECK(cudaMemsetAsync(out.data() + b * item, nan ? 0xff : 0,
                                                            sizeof(float) * static_cast<std::size_t>(item), s));
                    }
                });
            cuda::device_tiled_field field(broken, layout, canvas, policy::scale{}, options, stream);
            const std::string message = model_error_of(field);
            CAPTURE(message);
            CHECK(message.find("at step 2, sigma 0.") != std::string::npos);
            CHECK(message.find("in tile 3 (x=8, y=8, w=8, h=8)") != std::string::npos);
            CHECK(message.find("channel 0, pixel (x=8, y=8)") != std::string::npos);
        }
        SUBCASE("a model that writes nothing is named: the field fills its outputs with NaN first") {
            auto silent = cuda::make_device_model(prediction::kind::flow_velocity,
                                                  [](const model::batch_request&, mutable_view, cudaStream_t) {});
            cuda::device_tiled_field field(silent, layout, canvas, policy::scale{}, options, stream);
            const std::string message = model_error_of(field);
            CAPTURE(message);
            CHECK(message.find("at step 0, sigma 1") != std::string::npos);
            CHECK(message.find("did not write that element") != std::string::npos);
        }
        SUBCASE("a model that throws aborts the run with its exception") {
            auto throwing = cuda::make_device_model(prediction::kind::flow_velocity,
                                                    [](const model::batch_request&, mutable_view, cudaStream_t) {
                                                        throw std::runtime_error("out of VRAM");
                                                    });
            cuda::device_tiled_field field(throwing, layout, canvas, policy::scale{}, options, stream);
            cuda::device_tensor x(in.noise, stream);
            cuda::euler euler(stream);
            CHECK_THROWS_WITH_AS(cuda::sample(euler, field, x.view(), sigmas), "out of VRAM", std::runtime_error);
        }
        SUBCASE("host views where device memory is needed") {
            CHECK_THROWS_WITH_AS(cuda::device_tiled_field(model, layout, canvas, policy::strength{}, options, stream,
                                                          in.original.cview()),
                                 doctest::Contains("original is a host view"), shape_error);
            cuda::device_tiled_field field(model, layout, canvas, policy::strength{}, options, stream,
                                           original.cview());
            host_tensor x = in.noise, v(canvas);
            field.on_step(0, sigmas[0], sigmas[1]);
            CHECK_THROWS_WITH_AS(field(x.cview(), sigmas[0], v.view()), doctest::Contains("x is a host view"),
                                 shape_error);
        }
        SUBCASE("a policy that needs an original, without one") {
            CHECK_THROWS_WITH_AS(cuda::device_tiled_field(model, layout, canvas, policy::strength{}, options, stream),
                                 doctest::Contains("original = none"), invalid_argument);
        }
        SUBCASE("an original with NaN") {
            host_tensor bad = in.original;
            bad(0, 1, 2, 3) = std::nanf("");
            const cuda::device_tensor bad_device(bad, stream);
            CHECK_THROWS_WITH_AS(cuda::device_tiled_field(model, layout, canvas, policy::strength{}, options, stream,
                                                          bad_device.cview()),
                                 doctest::Contains("original[291] = nan"), invalid_argument);
        }
        SUBCASE("a mask value outside [0, 1]") {
            host_tensor mask(shape4{1, 1, 16, 16}, 0.5f);
            mask(0, 0, 3, 2) = 1.5f;
            const cuda::device_tensor mask_device(mask, stream);
            CHECK_THROWS_WITH_AS(cuda::device_tiled_field(model, layout, canvas, policy::mask{}, options, stream,
                                                          original.cview(), mask_device.cview()),
                                 doctest::Contains("strength_map[50] = 1.5"), invalid_argument);
        }
        SUBCASE("evaluating without a step index") {
            cuda::device_tiled_field field(model, layout, canvas, policy::scale{}, options, stream);
            cuda::device_tensor x(in.noise, stream), v(canvas);
            CHECK_THROWS_WITH_AS(field(x.cview(), 0.5, v.view()), doctest::Contains("on_step"), error);
        }
    }
}

int main(int argc, char** argv) { return cuda_fixtures::run_tests(argc, argv); }
