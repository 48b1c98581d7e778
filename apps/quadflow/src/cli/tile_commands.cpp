// quadflow CLI: the `quadtree` and `grid` subcommands, tile layouts as JSON in image pixels (and an overlay PNG).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/flag_checks.hpp"
#include "cli/json.hpp"
#include "cli/shared_flags.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/cli.hpp"
#include "quadflow_app/file_io.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/overlay.hpp"

namespace quadflow::cli {
namespace {

struct quadtree_command_options {
    std::string image;
    double threshold = 25;
    std::int64_t min_tile = 4;
    std::optional<std::int64_t> max_tile;
    std::optional<int> max_depth;
    std::int64_t align = 8;
    double min_strength = 0.2, max_strength = 0.8;
    std::string leaf_strength_rule = "area";
    std::int64_t overlap = 0;
    int latent_scale = 8;
    std::int64_t max_pixels = std::int64_t{1} << 28;
    std::string json_path;
    std::string overlay_path;
};

struct grid_command_options {
    std::int64_t width = 0, height = 0;
    std::int64_t tile = 96, overlap = 8;
    int latent_scale = 8;
    std::string image, overlay_path;
};

/// {"width": W, "height": H, "tiles": [{"x", "y", "w", "h", "denoise"}, ...]}, rectangles in image pixels.
std::string layout_json(const tile::layout& layout, bool padded) {
    const std::int64_t s = layout.latent_scale;
    json tiles = json::array();
    for (const tile::layout_tile& t : layout.tiles) {
        const rect r = padded ? rect{t.padded.x * s, t.padded.y * s, t.padded.w * s, t.padded.h * s} : t.pixel_core;
        tiles.push_back({{"x", r.x}, {"y", r.y}, {"w", r.w}, {"h", r.h}, {"denoise", t.strength}});
    }
    return to_text({{"width", layout.pixel_width()}, {"height", layout.pixel_height()}, {"tiles", std::move(tiles)}}) +
           "\n";
}

/// A layout command's --help line: what it builds, then the layout_json it prints, of `rectangles`.
std::string layout_command_description(const std::string& builds, const std::string& rectangles) {
    return builds + "; print {\"width\", \"height\", \"tiles\": [{x, y, w, h, denoise}]} in image pixels (" +
           rectangles + ")";
}

void run_quadtree(const quadtree_command_options& o, std::ostream& out) {
    tile::quadtree_options options;
    options.content_threshold = o.threshold;
    options.min_tile_size = o.min_tile;
    options.max_tile_size = o.max_tile.value_or(0);
    options.max_depth = o.max_depth.value_or(-1);
    options.align = o.align;
    options.min_strength = o.min_strength;
    options.max_strength = o.max_strength;
    options.rule = tile::parse_leaf_strength_rule(o.leaf_strength_rule);
    options.overlap_pixels = o.overlap;
    options.latent_scale = o.latent_scale;
    options.max_pixels = o.max_pixels;
    with_flag_names(quadtree_flag_names(), [&] { tile::validate(options); });
    if (!o.overlay_path.empty()) require_image_extension("--overlay", o.overlay_path);

    const app::rgb_image image = with_flag_name("--image", [&] { return app::load_rgb(o.image, o.max_pixels); });
    const tile::layout layout = tile::build_quadtree(image.view(), options);
    const std::string text = layout_json(layout, false);
    if (!o.json_path.empty()) with_flag_name("--json", [&] { app::write_file(o.json_path, text); });
    if (!o.overlay_path.empty())
        with_flag_name("--overlay", [&] { app::save_image(o.overlay_path, app::draw_tile_overlay(image, layout)); });
    out << text;
}

constexpr std::int64_t max_overlay_pixels = std::int64_t{1} << 28;

/// The grid's tiles drawn over --image (of --width x --height), or over a grey canvas without one.
void write_grid_overlay(const grid_command_options& o, const tile::layout& layout) {
    require_image_extension("--overlay", o.overlay_path);
    require(o.width * o.height <= max_overlay_pixels, "--overlay", o.overlay_path,
            "an overlay of " + std::to_string(o.width) + "x" + std::to_string(o.height) + " is more than " +
                std::to_string(max_overlay_pixels) + " pixels");
    app::rgb_image background(o.width, o.height, {128, 128, 128});
    if (!o.image.empty()) {
        background = with_flag_name("--image", [&] { return app::load_rgb(o.image); });
        require(background.width == o.width && background.height == o.height, "--image", o.image,
                "is " + std::to_string(background.width) + "x" + std::to_string(background.height) +
                    " but --width x --height is " + std::to_string(o.width) + "x" + std::to_string(o.height));
    }
    with_flag_name("--overlay", [&] { app::save_image(o.overlay_path, app::draw_tile_overlay(background, layout)); });
}

void run_grid(const grid_command_options& o, std::ostream& out) {
    require(o.latent_scale > 0, "--latent-scale", o.latent_scale, "must be > 0");
    const std::string multiple = "must be a positive multiple of --latent-scale = " + std::to_string(o.latent_scale);
    require(o.width > 0 && o.width % o.latent_scale == 0, "--width", o.width, multiple);
    require(o.height > 0 && o.height % o.latent_scale == 0, "--height", o.height, multiple);
    const std::string side_limit = "must be at most max_layout_side = " + std::to_string(tile::max_layout_side) +
                                   " latent px, " + std::to_string(tile::max_layout_side) + " x --latent-scale px";
    require(o.width / o.latent_scale <= tile::max_layout_side, "--width", o.width, side_limit);
    require(o.height / o.latent_scale <= tile::max_layout_side, "--height", o.height, side_limit);
    tile::grid_options options;
    options.tile = o.tile;
    options.overlap_latent = o.overlap;
    options.latent_scale = o.latent_scale;
    const std::map<std::string, std::string> flags{
        {"tile", "--tile"}, {"overlap_latent", "--overlap"}, {"latent_scale", "--latent-scale"}};
    tile::layout layout;
    with_flag_names(flags,
                    [&] { layout = tile::build_grid(o.width / o.latent_scale, o.height / o.latent_scale, options); });
    if (!o.overlay_path.empty()) write_grid_overlay(o, layout);
    out << layout_json(layout, true);
}

/// The layout's `--overlap` (in the units `overlap_description` states) and `--latent-scale`, which both layout
/// commands take.
void add_overlap_and_latent_scale_options(CLI::App& cmd, std::int64_t& overlap, int& latent_scale,
                                          const std::string& overlap_description) {
    cmd.add_option("--overlap", overlap, overlap_description);
    cmd.add_option("--latent-scale", latent_scale, "Image pixels per latent pixel");
}

void add_quadtree_command(CLI::App& app, std::ostream& out) {
    auto quadtree = std::make_shared<quadtree_command_options>();
    CLI::App* quadtree_cmd = app.add_subcommand(
        "quadtree", layout_command_description("Build the content-adaptive quadtree of an image", "tile cores"));
    quadtree_cmd->add_option("--image", quadtree->image, "Image to tile (PNG, JPEG, anything stb_image reads)")
        ->required();
    quadtree_cmd->add_option("--threshold", quadtree->threshold,
                             "Split when sqrt(varR + varG + varB) exceeds it (0..255 pixel values)");
    quadtree_cmd->add_option("--min-tile", quadtree->min_tile, "Smallest half a split may leave, px");
    quadtree_cmd->add_option("--max-tile", quadtree->max_tile, "Always split tiles larger than this, px");
    quadtree_cmd->add_option("--max-depth", quadtree->max_depth, "Deepest level of the tree");
    quadtree_cmd->add_option("--align", quadtree->align, "Tile edges on multiples of this, px");
    add_strength_range_options(*quadtree_cmd, quadtree->min_strength, quadtree->max_strength,
                               "Strength of the largest tiles", "Strength the smallest tiles approach");
    quadtree_cmd
        ->add_option("--leaf-rule,--denoise-rule", quadtree->leaf_strength_rule,
                     joined_names<tile::leaf_strength_rule>())
        ->check(one_of(names<tile::leaf_strength_rule>()));
    add_overlap_and_latent_scale_options(*quadtree_cmd, quadtree->overlap, quadtree->latent_scale,
                                         "Overlap of padded tiles, px");
    quadtree_cmd->add_option("--max-pixels", quadtree->max_pixels, "Refuse larger images before decoding them");
    quadtree_cmd->add_option("--json", quadtree->json_path, "Also write the JSON to this file");
    quadtree_cmd->add_option("--overlay", quadtree->overlay_path,
                             "Write a PNG of the image with tile borders coloured by denoise");
    quadtree_cmd->callback([quadtree, &out] { run_quadtree(*quadtree, out); });
}

void add_grid_command(CLI::App& app, std::ostream& out) {
    auto grid = std::make_shared<grid_command_options>();
    CLI::App* grid_cmd =
        app.add_subcommand("grid", layout_command_description("Build a uniform overlapping grid", "padded tiles"));
    grid_cmd->add_option("--width", grid->width, "Image width, px (a multiple of --latent-scale)")->required();
    grid_cmd->add_option("--height", grid->height, "Image height, px (a multiple of --latent-scale)")->required();
    grid_cmd->add_option("--tile", grid->tile, "Tile side, latent px");
    add_overlap_and_latent_scale_options(*grid_cmd, grid->overlap, grid->latent_scale,
                                         "Overlap between neighbouring tiles, latent px");
    grid_cmd->add_option("--image", grid->image, "Image to draw the --overlay on (default: a grey canvas)");
    grid_cmd->add_option("--overlay", grid->overlay_path,
                         "Write a PNG or JPEG of the image with the tiles' cores outlined");
    grid_cmd->callback([grid, &out] { run_grid(*grid, out); });
}

}  // namespace

void add_tile_commands(CLI::App& app, std::ostream& out) {
    add_quadtree_command(app, out);
    add_grid_command(app, out);
}

}  // namespace quadflow::cli
