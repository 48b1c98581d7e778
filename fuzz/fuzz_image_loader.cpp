// libFuzzer target: quadflow_app/image_io.hpp load_rgb_from_memory (stb_image) on arbitrary bytes, then a quadtree on
// what it decoded. Expected: an RGB8 image of the size it reports, or a quadflow::io_error. Anything else is a
// finding.
#include <cstdint>
#include <span>
#include <string>

#include "layout_invariants.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/image_io.hpp"

namespace {
/// Keeps decoding (and the fuzzer's memory) small; the limit itself is exercised by the inputs that exceed it.
constexpr std::int64_t max_pixels = std::int64_t{1} << 20;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace quadflow;
    app::rgb_image image;
    try {
        image = app::load_rgb_from_memory(std::span<const std::uint8_t>(data, size), max_pixels, "fuzz");
    } catch (const io_error&) {
        return 0;
    }
    if (!(image.width > 0 && image.height > 0 && image.width * image.height <= max_pixels))
        fuzz::finding("decoded size " + std::to_string(image.width) + "x" + std::to_string(image.height));
    if (!(image.pixels.size() == static_cast<std::size_t>(image.width * image.height * 3)))
        fuzz::finding("decoded " + std::to_string(image.pixels.size()) + " bytes for " + std::to_string(image.width) +
                      "x" + std::to_string(image.height) + " RGB pixels");
    tile::quadtree_options options;
    options.latent_scale = 1;
    tile::layout layout;
    try {
        layout = tile::build_quadtree(image.view(), options);
    } catch (const invalid_argument&) {
        return 0;  // smaller than one aligned block
    }
    fuzz::check_layout(layout, true, blend::weight_params{});
    return 0;
}
