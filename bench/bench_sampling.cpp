// quadflow benchmark: an Euler step and torch-compatible noise on a 1x16x512x512 latent (a 4096^2 FLUX image),
// against a plain copy of the same bytes in the same binary.
#include <benchmark/benchmark.h>

#include "latent_copy.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/sampler/euler.hpp"
#include "ratio_main.hpp"

namespace {

using namespace quadflow;
constexpr shape4 latent_shape{1, 16, 512, 512};

/// A field that leaves the velocity buffer as it is: the step's own cost alone.
struct prefilled_velocity {
    void operator()(const_view, double, mutable_view) const {}
};

// Euler reads x and v and writes x: 3 x 4 bytes per element.
void euler_step(benchmark::State& state) {
    host_tensor x(latent_shape, 0.5f);
    sampler::euler euler;
    euler.reset(latent_shape);
    prefilled_velocity field;
    for (auto _ : state) {
        euler.step(field, x.view(), 0.75, 0.7);
        benchmark::DoNotOptimize(x.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * latent_shape.numel() * 3 * 4);
}
BENCHMARK(euler_step)->Unit(benchmark::kMillisecond)->UseRealTime();

// The baseline: memcpy of one latent into another, 2 x 4 bytes per element.
void copy_latent(benchmark::State& state) { bench::measure_latent_copy(state, latent_shape); }
BENCHMARK(copy_latent)->Unit(benchmark::kMillisecond)->UseRealTime();

void torch_randn_latent(benchmark::State& state) {
    host_tensor out(latent_shape);
    std::uint64_t seed = 0;
    for (auto _ : state) {
        noise::torch_randn(seed++, out.span());
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations() * latent_shape.numel());
    state.SetBytesProcessed(state.iterations() * latent_shape.numel() * 4);
}
BENCHMARK(torch_randn_latent)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    return quadflow::bench::run_with_ratios(
        argc, argv,
        {{"euler_step/real_time", "copy_latent/real_time", "bytes_per_second", ">= 0.6"},
         {"torch_randn_latent/real_time", "copy_latent/real_time", "bytes_per_second", "(report)"}});
}
