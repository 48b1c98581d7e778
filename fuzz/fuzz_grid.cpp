// libFuzzer target: tile::build_grid and tile::build_spot on arbitrary sizes and options. Expected: a layout whose
// cores partition the canvas, or a quadflow::error for bad arguments. Anything else is a finding.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "layout_invariants.hpp"
#include "quadflow/tile/grid.hpp"

namespace {

using namespace quadflow;

std::int64_t pick_extent(FuzzedDataProvider& in, std::int64_t usual_max) {
    // Canvases near max_layout_side are valid but slow (up to max_grid_tiles tiles), so they come rarely.
    switch (in.ConsumeIntegralInRange<int>(0, 63)) {
        case 0:
            return in.ConsumeIntegral<std::int64_t>();
        case 1:
        case 2:
        case 3:
            return in.ConsumeIntegralInRange<std::int64_t>(-2, 2);
        case 4:
            return in.ConsumeIntegralInRange<std::int64_t>(tile::max_layout_side - 2, tile::max_layout_side + 2);
        default:
            return in.ConsumeIntegralInRange<std::int64_t>(1, usual_max);
    }
}

blend::weight_params pick_weights(FuzzedDataProvider& in) {
    const auto kind = static_cast<blend::weight_kind>(in.ConsumeIntegralInRange<int>(0, 2));
    return {kind, in.ConsumeFloatingPointInRange<float>(1e-4f, 1.0f)};
}

void check_grid(FuzzedDataProvider& in) {
    const std::int64_t width = pick_extent(in, 700), height = pick_extent(in, 700);
    tile::grid_options o;
    o.tile = pick_extent(in, 200);
    o.overlap_latent = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int64_t>(0, o.tile > 1 ? o.tile - 1 : 0)
                                        : pick_extent(in, 64);
    o.latent_scale = in.ConsumeIntegralInRange<int>(-1, 16);
    o.strength = in.ConsumeBool() ? in.ConsumeProbability<double>() : in.ConsumeFloatingPoint<double>();
    const blend::weight_params weights = pick_weights(in);
    tile::layout layout;
    try {
        layout = tile::build_grid(width, height, o);
    } catch (const error&) {
        return;
    }
    fuzz::check_layout(layout, true, weights);
    const std::int64_t tile_w = std::min(o.tile, width), tile_h = std::min(o.tile, height);
    for (const tile::layout_tile& t : layout.tiles) {
        if (!(t.padded.w == tile_w && t.padded.h == tile_h))
            fuzz::finding("grid tile " + std::to_string(t.id) + " padded " + to_string(t.padded) +
                          " is not the requested size");
        if (!(t.padded.x >= 0 && t.padded.y >= 0 && t.padded.right() <= width && t.padded.bottom() <= height))
            fuzz::finding("grid tile " + std::to_string(t.id) + " leaves the canvas");
        if (!(t.strength == o.strength)) fuzz::finding("grid tile strength differs from the option");
    }
    // Neighbours along each axis overlap by at least the requested overlap.
    for (std::size_t i = 0; i + 1 < layout.tiles.size(); ++i) {
        const tile::layout_tile &a = layout.tiles[i], &b = layout.tiles[i + 1];
        if (a.padded.y != b.padded.y) continue;
        if (!(a.padded.right() - b.padded.x >= std::min(o.overlap_latent, tile_w)))
            fuzz::finding("grid tiles " + std::to_string(i) + " and " + std::to_string(i + 1) +
                          " overlap less than requested");
    }
}

void check_spot(FuzzedDataProvider& in) {
    const std::int64_t width = pick_extent(in, 700), height = pick_extent(in, 700);
    const std::int64_t tile_size = pick_extent(in, 200);
    const int total_steps = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(-1, 400) : in.ConsumeIntegral<int>();
    const int step =
        in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(-1, std::max(total_steps, 0)) : in.ConsumeIntegral<int>();
    const std::uint64_t seed = in.ConsumeIntegral<std::uint64_t>();
    const auto shift = static_cast<tile::spot_shift>(in.ConsumeIntegralInRange<int>(0, 2));
    const int latent_scale = in.ConsumeIntegralInRange<int>(-1, 16);
    const blend::weight_params weights = pick_weights(in);
    tile::layout layout;
    try {
        layout = tile::build_spot(width, height, tile_size, step, total_steps, seed, shift, latent_scale);
    } catch (const error&) {
        return;
    }
    fuzz::check_layout(layout, true, weights);
    for (const tile::layout_tile& t : layout.tiles) {
        if (!(t.padded == t.core)) fuzz::finding("SpotDiffusion tile " + std::to_string(t.id) + " has overlap");
        if (!(t.core.w <= tile_size && t.core.h <= tile_size))
            fuzz::finding("SpotDiffusion tile " + std::to_string(t.id) + " larger than the tile size");
    }
    // Deterministic: the same arguments give the same layout.
    const tile::layout again = tile::build_spot(width, height, tile_size, step, total_steps, seed, shift, latent_scale);
    if (!(again.tiles.size() == layout.tiles.size())) fuzz::finding("SpotDiffusion layout is not deterministic");
    for (std::size_t i = 0; i < again.tiles.size(); ++i)
        if (!(again.tiles[i].core == layout.tiles[i].core)) fuzz::finding("SpotDiffusion layout is not deterministic");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    if (in.ConsumeBool())
        check_grid(in);
    else
        check_spot(in);
    return 0;
}
