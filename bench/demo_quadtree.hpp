// quadflow benchmarks: the demo photo's quadtree read as a 512x512 latent (a 4096^2 FLUX image), with a minimum
// tile of 16 px and 8 latent px of overlap. Its programs link quadflow_app (the photo and its loader).
#pragma once

#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/image_io.hpp"

namespace quadflow::bench {

/// The quadtree at latent scale 1 that splits where the content exceeds `content_threshold`.
inline tile::layout demo_photo_quadtree(double content_threshold) {
    const auto image = app::load_rgb(QUADFLOW_DEMO_IMAGE);
    tile::quadtree_options o;
    o.latent_scale = 1;
    o.content_threshold = content_threshold;
    o.min_tile_size = 16;
    o.overlap_pixels = 8;
    return tile::build_quadtree(image.view(), o);
}

}  // namespace quadflow::bench
