// libFuzzer target: tile::build_quadtree on arbitrary images and options. Expected: a layout whose cores
// partition the canvas, or a quadflow::error for bad options and unusable images. Anything else is a finding.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "layout_invariants.hpp"
#include "quadflow/tile/quadtree.hpp"

namespace {

using namespace quadflow;

/// A value that is usually small and valid, sometimes at the edges of its type.
std::int64_t pick_size(FuzzedDataProvider& in, std::int64_t usual_max) {
    switch (in.ConsumeIntegralInRange<int>(0, 15)) {
        case 0:
            return in.ConsumeIntegral<std::int64_t>();
        case 1:
            return in.ConsumeIntegralInRange<std::int64_t>(-2, 2);
        default:
            return in.ConsumeIntegralInRange<std::int64_t>(1, usual_max);
    }
}

double pick_real(FuzzedDataProvider& in, double low, double high) {
    switch (in.ConsumeIntegralInRange<int>(0, 15)) {
        case 0:
            return in.ConsumeFloatingPoint<double>();
        case 1:
            return std::numeric_limits<double>::quiet_NaN();
        default:
            return in.ConsumeFloatingPointInRange<double>(low, high);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    tile::quadtree_options o;
    o.latent_scale = static_cast<int>(
        std::clamp<std::int64_t>(pick_size(in, 16), std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
    const std::int64_t scale_for_align = o.latent_scale > 0 ? o.latent_scale : 1;
    o.align = in.ConsumeBool() ? scale_for_align * in.ConsumeIntegralInRange<std::int64_t>(1, 4) : pick_size(in, 32);
    o.content_threshold = pick_real(in, 0.0, 120.0);
    o.min_tile_size = pick_size(in, 64);
    o.max_tile_size = in.ConsumeBool() ? 0 : pick_size(in, 512);
    o.max_depth = in.ConsumeIntegralInRange<int>(-2, 12);
    o.min_latent_tile = pick_size(in, 8);
    o.min_strength = pick_real(in, 0.0, 1.0);
    o.max_strength = pick_real(in, std::isfinite(o.min_strength) ? std::clamp(o.min_strength, 0.0, 1.0) : 0.0, 1.0);
    o.rule = in.ConsumeBool() ? tile::leaf_strength_rule::area : tile::leaf_strength_rule::depth;
    o.overlap_pixels = in.ConsumeBool() ? 0 : pick_size(in, 64);
    o.max_pixels = in.ConsumeBool() ? o.max_pixels : pick_size(in, 1 << 18);

    const std::int64_t width = in.ConsumeIntegralInRange<std::int64_t>(0, 300);
    const std::int64_t height = in.ConsumeIntegralInRange<std::int64_t>(0, 300);
    const std::int64_t padding = in.ConsumeIntegralInRange<std::int64_t>(0, 7);
    const std::int64_t stride = 3 * width + padding;
    // Pixels: the rest of the input repeated (a few bytes make large flat or striped images).
    const std::vector<std::uint8_t> source = in.ConsumeRemainingBytes<std::uint8_t>();
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(std::max<std::int64_t>(stride * height, 1)));
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = source.empty() ? 0 : source[i % source.size()];
    const tile::rgb_image_view image{pixels.data(), width, height, stride};

    tile::layout layout;
    try {
        layout = tile::build_quadtree(image, o);
    } catch (const error&) {
        return 0;  // bad options or an unusable image: the error is the expected answer
    }
    fuzz::check_layout(layout, true, blend::weight_params{blend::weight_kind::gaussian, 0.02f});
    fuzz::check_layout(layout, true, blend::weight_params{blend::weight_kind::smootherstep, 0.01f});
    const std::int64_t root_w = width / o.align * o.align, root_h = height / o.align * o.align;
    if (!(layout.width == root_w / o.latent_scale && layout.height == root_h / o.latent_scale))
        fuzz::finding("canvas " + std::to_string(layout.width) + "x" + std::to_string(layout.height) +
                      " is not the aligned root / latent_scale");
    const std::int64_t smallest = tile::smallest_leaf_side(o);
    for (const tile::layout_tile& t : layout.tiles) {
        const std::string name = "tile " + std::to_string(t.id);
        if (!(t.pixel_core.x % o.align == 0 && t.pixel_core.y % o.align == 0))
            fuzz::finding(name + " pixel core " + to_string(t.pixel_core) + " is not aligned");
        if (!(t.pixel_core == rect{t.core.x * o.latent_scale, t.core.y * o.latent_scale, t.core.w * o.latent_scale,
                                   t.core.h * o.latent_scale}))
            fuzz::finding(name + " pixel core is not core * latent_scale");
        // A side is never below the smallest leaf side, unless no split ever cut that axis (the root's side).
        if ((t.pixel_core.w < smallest && t.pixel_core.w != root_w) ||
            (t.pixel_core.h < smallest && t.pixel_core.h != root_h))
            fuzz::finding(name + " " + to_string(t.pixel_core) + " is smaller than the smallest leaf side " +
                          std::to_string(smallest));
        if (!(t.strength >= o.min_strength && t.strength <= o.max_strength))
            fuzz::finding(name + " denoise " + std::to_string(t.strength) + " outside [min_strength, max_strength]");
        if (!(o.max_depth < 0 || t.depth <= o.max_depth)) fuzz::finding(name + " deeper than max_depth");
    }
    return 0;
}
