// quadflow app regions: a palette PNG of regions and its JSON table (palette colour -> condition index, and for the
// app's models a target colour and a strength), turned into per-pixel condition labels.
//
// The table (--region-table FILE.json):
//   {"regions": [{"name": "suit", "color": "#ffffff", "condition": 1, "target": "#2050e0", "strength": 0.8},
//                {"name": "background", "color": "#000000", "condition": 0}]}
// color: the region's colour in the PNG; condition: its index (>= 0; regions may share one); target (optional): the
// analytic model's target colour for that condition (the original recoloured toward it, as "make it red" is toward
// red); strength (optional, in [0, 1]): the region's per-pixel strength under the mask policy, in place of the
// quadtree's. Every pixel of the PNG must have a colour of the table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quadflow_app/image_io.hpp"

namespace quadflow::app {

struct region {
    std::string name;
    rgb colour;
    std::int32_t condition = 0;
    std::optional<rgb> target;
    std::optional<double> strength;
};

/// Per-pixel labels (condition indices, row-major) and the regions they came from.
struct region_map {
    std::int64_t width = 0, height = 0;
    std::vector<std::int32_t> labels;     ///< condition index per pixel
    std::vector<std::int32_t> region_of;  ///< index into `regions` per pixel
    std::vector<region> regions;
};

/// Parses a region table; `source` names it in errors (throws invalid_argument naming the entry and the value).
std::vector<region> parse_region_table(const std::string& json_text, const std::string& source);

/// Labels `image` by the table's colours; throws invalid_argument naming the first pixel whose colour is not in it.
region_map label_regions(const rgb_image& image, std::vector<region> regions, const std::string& source);

/// Loads the PNG and the JSON table (--regions, --region-table).
region_map load_regions(const std::string& png_path, const std::string& table_path);

/// "#rrggbb".
std::string to_hex(rgb colour);

}  // namespace quadflow::app
