// quadflow app regions: the JSON table (nlohmann::json) and the labelling of a palette PNG.
#include "quadflow_app/regions.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "quadflow/core/error.hpp"
#include "quadflow_app/file_io.hpp"

namespace quadflow::app {

namespace {

rgb parse_colour(const nlohmann::json& value, const std::string& name) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    unsigned r = 0, g = 0, b = 0;
    char end = 0;
    if (!value.is_string() || text.size() != 7 || std::sscanf(text.c_str(), "#%2x%2x%2x%c", &r, &g, &b, &end) != 3)
        throw invalid_argument(name, text, "must be a colour \"#rrggbb\"");
    return rgb{static_cast<std::uint8_t>(r), static_cast<std::uint8_t>(g), static_cast<std::uint8_t>(b)};
}

}  // namespace

std::string to_hex(rgb colour) {
    char text[8];
    std::snprintf(text, sizeof text, "#%02x%02x%02x", colour.r, colour.g, colour.b);
    return text;
}

std::vector<region> parse_region_table(const std::string& json_text, const std::string& source) {
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(json_text);
    } catch (const nlohmann::json::parse_error& e) {
        throw invalid_argument(source, "not JSON", e.what());
    }
    if (!document.is_object() || !document.contains("regions") || !document["regions"].is_array() ||
        document["regions"].empty())
        throw invalid_argument(source, document.dump().substr(0, 80),
                               "must be {\"regions\": [{\"color\": \"#rrggbb\", \"condition\": 0, ...}, ...]}");
    std::vector<region> regions;
    std::map<std::tuple<int, int, int>, std::size_t> seen;
    for (std::size_t i = 0; i < document["regions"].size(); ++i) {
        const nlohmann::json& entry = document["regions"][i];
        const std::string name = source + " regions[" + std::to_string(i) + "]";
        if (!entry.is_object()) throw invalid_argument(name, entry.dump(), "must be an object");
        for (const auto& [key, value] : entry.items())
            if (key != "name" && key != "color" && key != "condition" && key != "target" && key != "strength")
                throw invalid_argument(name + "." + key, value.dump(),
                                       "is not a region field (name, color, condition, target, strength)");
        region r;
        r.name = entry.value("name", "region " + std::to_string(i));
        if (!entry.contains("color")) throw invalid_argument(name + ".color", "missing", "every region needs one");
        r.colour = parse_colour(entry["color"], name + ".color");
        if (!entry.contains("condition") || !entry["condition"].is_number_integer() ||
            entry["condition"].get<std::int64_t>() < 0 || entry["condition"].get<std::int64_t>() > 1000000)
            throw invalid_argument(name + ".condition",
                                   entry.contains("condition") ? entry["condition"].dump() : "missing",
                                   "must be an integer in [0, 1000000]");
        r.condition = entry["condition"].get<std::int32_t>();
        if (entry.contains("target")) r.target = parse_colour(entry["target"], name + ".target");
        if (entry.contains("strength")) {
            const nlohmann::json& s = entry["strength"];
            if (!s.is_number() || s.get<double>() < 0.0 || s.get<double>() > 1.0)
                throw invalid_argument(name + ".strength", s.dump(), "must be a number in [0, 1]");
            r.strength = s.get<double>();
        }
        const auto key = std::make_tuple(int{r.colour.r}, int{r.colour.g}, int{r.colour.b});
        if (const auto [it, added] = seen.emplace(key, i); !added)
            throw invalid_argument(name + ".color", to_hex(r.colour),
                                   "is also regions[" + std::to_string(it->second) + "]'s colour");
        regions.push_back(std::move(r));
    }
    return regions;
}

region_map label_regions(const rgb_image& image, std::vector<region> regions, const std::string& source) {
    region_map map;
    map.width = image.width;
    map.height = image.height;
    map.regions = std::move(regions);
    std::map<std::tuple<int, int, int>, std::int32_t> index;
    for (std::size_t i = 0; i < map.regions.size(); ++i) {
        const rgb c = map.regions[i].colour;
        index.emplace(std::make_tuple(int{c.r}, int{c.g}, int{c.b}), static_cast<std::int32_t>(i));
    }
    const auto pixels = static_cast<std::size_t>(image.width * image.height);
    map.labels.resize(pixels);
    map.region_of.resize(pixels);
    for (std::int64_t y = 0; y < image.height; ++y)
        for (std::int64_t x = 0; x < image.width; ++x) {
            const rgb c = image.at(x, y);
            const auto found = index.find(std::make_tuple(int{c.r}, int{c.g}, int{c.b}));
            if (found == index.end())
                throw invalid_argument(source + " pixel (x=" + std::to_string(x) + ", y=" + std::to_string(y) + ")",
                                       to_hex(c), "is not a colour of the region table");
            const auto k = static_cast<std::size_t>(y * image.width + x);
            map.region_of[k] = found->second;
            map.labels[k] = map.regions[static_cast<std::size_t>(found->second)].condition;
        }
    return map;
}

region_map load_regions(const std::string& png_path, const std::string& table_path) {
    std::ifstream file(table_path);
    if (!file) throw io_error("--region-table: cannot read '" + table_path + "'");
    std::stringstream text;
    text << file.rdbuf();
    return label_regions(load_rgb(png_path), parse_region_table(text.str(), "--region-table " + table_path),
                         "--regions " + png_path);
}

}  // namespace quadflow::app
