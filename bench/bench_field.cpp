// quadflow benchmark: per-step overhead of the tiled field (model that returns at once) on a 1x16x512x512
// latent with a quadtree layout of about 800 tiles and overlap 8, against a copy of the latent in the same
// run; and the model work per step of grid vs quadtree vs quadtree + strength on the demo image.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "demo_quadtree.hpp"
#include "latent_copy.hpp"
#include "quadflow/core/thread_pool.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "ratio_main.hpp"

namespace {

using namespace quadflow;
constexpr shape4 latent_shape{1, 16, 512, 512};

/// A model that returns at once, its output buffer left as it is (the field's own cost alone; the field's NaN
/// fill is off), or filled with zeros (`writes`), the cheapest model that writes its output.
struct instant_model {
    bool writes = false;
    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request&, mutable_view out) const {
        if (writes) std::fill_n(out.data(), out.numel(), 0.0f);
    }
};

/// The demo photo's quadtree with the seed system's settings (threshold 25, 8 px alignment), at a minimum
/// tile of 16 px, read as a 512x512 latent (a 4096^2 FLUX image) with 8 latent px of overlap.
const tile::layout& demo_quadtree() {
    static const tile::layout layout = bench::demo_photo_quadtree(tile::quadtree_options{}.content_threshold);
    return layout;
}

/// ComfyUI-TiledDiffusion's defaults: 96 latent px tiles with 8 px overlap.
const tile::layout& default_grid() {
    static const tile::layout layout = tile::build_grid(512, 512, tile::grid_options{});
    return layout;
}

/// Bytes an evaluation of the tiled field cannot avoid moving: read every padded tile from x and write it to
/// the model's input, read the model's output where it lies in the canvas, write the velocity once.
std::int64_t least_blend_bytes(const tile::layout& layout, std::int64_t channels) {
    std::int64_t padded = 0, in_canvas = 0;
    for (const tile::layout_tile& t : layout.tiles) {
        padded += t.padded.area();
        in_canvas += clipped(t.padded, layout.width, layout.height).area();
    }
    return 4 * channels * (2 * padded + in_canvas + layout.width * layout.height);
}

template <class Policy>
void field_step(benchmark::State& state, const tile::layout& layout, Policy policy,
                std::chrono::microseconds pool_spin = thread_pool::default_spin, instant_model model = {},
                bool fill_outputs_with_nan = false) {
    host_tensor x(latent_shape, 0.25f), v(latent_shape), original(latent_shape, 0.1f);
    field::field_options options;
    options.fill_outputs_with_nan = fill_outputs_with_nan;
    options.sigmas = schedule::flux(20, 4096, 4096);
    options.threads = static_cast<int>(state.range(0));
    options.pool_spin = pool_spin;
    field::tiled_field f(model, layout, latent_shape, policy, options, original.cview());
    f.on_step(10, options.sigmas[10], options.sigmas[11]);
    for (auto _ : state) {
        f(x.cview(), options.sigmas[10], v.view());
        benchmark::DoNotOptimize(v.data());
        benchmark::ClobberMemory();
    }
    // Bytes of one latent read and one written, as the copy below: the ratio is the inverse time ratio.
    state.SetBytesProcessed(state.iterations() * latent_shape.numel() * 2 * 4);
    state.counters["least_bytes_per_second"] = benchmark::Counter(
        static_cast<double>(least_blend_bytes(layout, latent_shape.c)), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tiles"] = static_cast<double>(layout.tiles.size());
    state.counters["model_calls_per_step"] =
        static_cast<double>(f.stats().model_calls) / static_cast<double>(f.stats().evaluations);
    state.counters["tile_pixels_per_step"] =
        static_cast<double>(f.stats().tile_pixels) / static_cast<double>(f.stats().evaluations);
}

void field_step_quadtree(benchmark::State& state) { field_step(state, demo_quadtree(), policy::scale{}); }
void field_step_grid(benchmark::State& state) { field_step(state, default_grid(), policy::scale{}); }
BENCHMARK(field_step_quadtree)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(field_step_grid)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same with workers that sleep between the pool's runs (pool_spin = 0), the baseline of the polling pool.
void field_step_quadtree_sleeping_pool(benchmark::State& state) {
    field_step(state, demo_quadtree(), policy::scale{}, std::chrono::microseconds{0});
}
void field_step_grid_sleeping_pool(benchmark::State& state) {
    field_step(state, default_grid(), policy::scale{}, std::chrono::microseconds{0});
}
BENCHMARK(field_step_quadtree_sleeping_pool)->ArgName("threads")->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(field_step_grid_sleeping_pool)->ArgName("threads")->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The cost of the NaN fill of the model's outputs (issue 14): a model that writes zeros, with and without the fill.
void field_step_quadtree_writing_model(benchmark::State& state) {
    field_step(state, demo_quadtree(), policy::scale{}, thread_pool::default_spin, instant_model{true}, false);
}
void field_step_quadtree_nan_fill(benchmark::State& state) {
    field_step(state, demo_quadtree(), policy::scale{}, thread_pool::default_spin, instant_model{true}, true);
}
BENCHMARK(field_step_quadtree_writing_model)->ArgName("threads")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(field_step_quadtree_nan_fill)->ArgName("threads")->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

/// One thread_pool run of 16 tasks of about 4 us of arithmetic each: what the pool costs on short runs.
void pool_run(benchmark::State& state) {
    thread_pool pool(static_cast<int>(state.range(0)), std::chrono::microseconds{state.range(1)});
    std::vector<double> sums(16, 0.0);
    auto task = [&](std::int64_t i) {
        double s = 0.0;
        for (int k = 1; k <= 4000; ++k) s += 1.0 / (k + static_cast<double>(i));  // about 4 us (serial divisions)
        sums[static_cast<std::size_t>(i)] = s;
    };
    for (auto _ : state) {
        pool.run(16, task);
        benchmark::DoNotOptimize(sums.data());
    }
    state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(pool_run)->ArgNames({"threads", "spin_us"})->Args({1, 0})->Args({2, 0})->Args({2, 200})->UseRealTime();

void copy_latent(benchmark::State& state) { bench::measure_latent_copy(state, latent_shape); }
BENCHMARK(copy_latent)->Unit(benchmark::kMillisecond)->UseRealTime();

/// A copy moving as many bytes as the field step must (least_blend_bytes: half read, half written).
void copy_same_bytes(benchmark::State& state, const tile::layout& layout) {
    const std::int64_t bytes = least_blend_bytes(layout, latent_shape.c);
    // On huge pages, as the field's tensors (host_memory.hpp).
    std::vector<char, host_memory_allocator<char>> source(static_cast<std::size_t>(bytes / 2), 1),
        target(static_cast<std::size_t>(bytes / 2), 0);
    for (auto _ : state) {
        std::memcpy(target.data(), source.data(), source.size());
        benchmark::DoNotOptimize(target.data());
        benchmark::ClobberMemory();
    }
    state.counters["least_bytes_per_second"] =
        benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
}
void copy_same_bytes_quadtree(benchmark::State& state) { copy_same_bytes(state, demo_quadtree()); }
void copy_same_bytes_grid(benchmark::State& state) { copy_same_bytes(state, default_grid()); }
BENCHMARK(copy_same_bytes_quadtree)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(copy_same_bytes_grid)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Model work of a whole 20-step run, per step on average (counters; the time is of the run).
template <class Policy>
void model_work(benchmark::State& state, const tile::layout& layout, Policy policy) {
    constexpr shape4 small{1, 1, 512, 512};
    host_tensor x(small, 0.25f), v(small), original(small, 0.1f);
    instant_model model;
    field::field_options options;
    options.fill_outputs_with_nan = false;
    options.sigmas = schedule::flux(20, 4096, 4096);
    field::field_stats stats;
    for (auto _ : state) {
        field::tiled_field f(model, layout, small, policy, options, original.cview());
        for (int i = 0; i < 20; ++i) {
            f.on_step(i, options.sigmas[i], options.sigmas[i + 1]);
            f(x.cview(), options.sigmas[i], v.view());
        }
        stats = f.stats();
    }
    state.counters["model_calls_per_step"] = static_cast<double>(stats.model_calls) / 20.0;
    state.counters["tile_pixels_per_step"] = static_cast<double>(stats.tile_pixels) / 20.0;
    state.counters["calls_saved_per_step"] = static_cast<double>(stats.calls_saved) / 20.0;
}
void work_grid(benchmark::State& state) { model_work(state, default_grid(), policy::scale{}); }
void work_quadtree(benchmark::State& state) { model_work(state, demo_quadtree(), policy::scale{}); }
void work_quadtree_strength(benchmark::State& state) { model_work(state, demo_quadtree(), policy::strength{}); }
BENCHMARK(work_grid)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(work_quadtree)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(work_quadtree_strength)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    return quadflow::bench::run_with_ratios(
        argc, argv,
        {{"field_step_quadtree/threads:1/real_time", "copy_latent/real_time", "bytes_per_second",
          ">= 0.25 (<= 4x the copy)"},
         {"field_step_quadtree/threads:2/real_time", "copy_latent/real_time", "bytes_per_second",
          ">= 0.25 (<= 4x the copy)"},
         {"field_step_grid/threads:1/real_time", "copy_latent/real_time", "bytes_per_second", "(report)"},
         {"field_step_quadtree/threads:1/real_time", "copy_same_bytes_quadtree/real_time", "least_bytes_per_second",
          ">= 0.7 (issue 6, the bytes the blend must move)"},
         {"field_step_quadtree/threads:2/real_time", "copy_same_bytes_quadtree/real_time", "least_bytes_per_second",
          ">= 0.7 (issue 6, the bytes the blend must move)"},
         {"field_step_grid/threads:1/real_time", "copy_same_bytes_grid/real_time", "least_bytes_per_second",
          ">= 0.7 (issue 6, the bytes the blend must move)"},
         {"field_step_grid/threads:2/real_time", "copy_same_bytes_grid/real_time", "least_bytes_per_second",
          ">= 0.7 (issue 6, the bytes the blend must move)"},
         {"field_step_quadtree/threads:2/real_time", "field_step_quadtree_sleeping_pool/threads:2/real_time",
          "bytes_per_second", "(report: polling pool over sleeping pool)"},
         {"field_step_grid/threads:2/real_time", "field_step_grid_sleeping_pool/threads:2/real_time",
          "bytes_per_second", "(report: polling pool over sleeping pool)"},
         {"field_step_quadtree_nan_fill/threads:1/real_time", "field_step_quadtree_writing_model/threads:1/real_time",
          "bytes_per_second", "(report: with the NaN fill of model outputs over without; issue 14)"},
         {"pool_run/threads:2/spin_us:0/real_time", "pool_run/threads:1/spin_us:0/real_time", "items_per_second",
          "(report: 2 sleeping threads over 1)"},
         {"pool_run/threads:2/spin_us:200/real_time", "pool_run/threads:1/spin_us:0/real_time", "items_per_second",
          "(report: 2 polling threads over 1)"}});
}
