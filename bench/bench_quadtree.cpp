// quadflow benchmark: the quadtree build on an 8192x8192 RGB image against one plain pass that sums its bytes,
// in the same binary.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "quadflow/tile/quadtree.hpp"
#include "ratio_main.hpp"

namespace {

using namespace quadflow;
constexpr std::int64_t side = 8192;
constexpr std::int64_t image_bytes = side * side * 3;

/// A deterministic value in 0..255 that changes from pixel to pixel (texture).
std::uint8_t texture(std::int64_t x, std::int64_t y, int channel) {
    std::uint64_t h = static_cast<std::uint64_t>(x) * 0x9E3779B97F4A7C15ull ^
                      static_cast<std::uint64_t>(y) * 0xC2B2AE3D27D4EB4Full ^
                      static_cast<std::uint64_t>(channel) * 0x165667B19E3779F9ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return static_cast<std::uint8_t>(h);
}

/// Smooth gradients over the whole image, with four textured regions (a photo's detailed parts).
const std::vector<std::uint8_t>& photo_like_image() {
    static const std::vector<std::uint8_t> pixels = [] {
        std::vector<std::uint8_t> p(static_cast<std::size_t>(image_bytes));
        const rect detailed[] = {
            {1000, 1200, 700, 500}, {5000, 800, 400, 900}, {3000, 5000, 1200, 300}, {6500, 6500, 600, 600}};
        for (std::int64_t y = 0; y < side; ++y)
            for (std::int64_t x = 0; x < side; ++x) {
                std::uint8_t* px = &p[static_cast<std::size_t>((y * side + x) * 3)];
                px[0] = static_cast<std::uint8_t>(x * 255 / side);
                px[1] = static_cast<std::uint8_t>(y * 255 / side);
                px[2] = static_cast<std::uint8_t>((x + y) * 127 / side);
                for (const rect& r : detailed)
                    if (r.contains(x, y))
                        for (int c = 0; c < 3; ++c) px[c] = static_cast<std::uint8_t>(px[c] / 2 + texture(x, y, c) / 2);
            }
        return p;
    }();
    return pixels;
}

void quadtree_build_8192(benchmark::State& state) {
    const auto& pixels = photo_like_image();
    const tile::rgb_image_view image = tile::packed_rgb_view(pixels.data(), side, side);
    std::size_t tiles = 0;
    for (auto _ : state) {
        const tile::layout l = tile::build_quadtree(image, tile::quadtree_options{});
        tiles = l.tiles.size();
        benchmark::DoNotOptimize(l.tiles.data());
    }
    state.counters["tiles"] = static_cast<double>(tiles);
    state.SetBytesProcessed(state.iterations() * image_bytes);
}
BENCHMARK(quadtree_build_8192)->Unit(benchmark::kMillisecond)->UseRealTime();

// The baseline: one pass that reads every byte of the image and sums them.
void sum_image_bytes_8192(benchmark::State& state) {
    const auto& pixels = photo_like_image();
    for (auto _ : state) {
        std::uint64_t sum = 0;
        for (const std::uint8_t byte : pixels) sum += byte;
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(state.iterations() * image_bytes);
}
BENCHMARK(sum_image_bytes_8192)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    return quadflow::bench::run_with_ratios(argc, argv,
                                            {{"quadtree_build_8192/real_time", "sum_image_bytes_8192/real_time",
                                              "bytes_per_second", "<= 3x time, i.e. >= 0.33"}});
}
