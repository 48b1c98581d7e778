// Tests of the quadflow tool run in-process (quadflow::cli::run_cli): its JSON on stdout, parsed, and its bad-input
// errors (exit code 2, one line naming the flag and the value). cmake/cli_tests.cmake runs the program itself for
// exit codes, stdout and stderr apart, progress without a terminal, help, --version and the files it writes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/shift.hpp"
#include "quadflow/version.hpp"
#include "quadflow_app/cli.hpp"
#include "quadflow_app/distributed.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/learned_model.hpp"

namespace {

using nlohmann::json;

struct run_result {
    int code = -1;
    std::string out, err;
};

run_result run(std::initializer_list<std::string> args) {
    std::vector<std::string> all{"quadflow"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& a : all) argv.push_back(a.c_str());
    std::ostringstream out, err;
    run_result result;
    result.code = quadflow::cli::run_cli(static_cast<int>(argv.size()), argv.data(), out, err);
    result.out = out.str();
    result.err = err.str();
    return result;
}

bool matches(const std::string& text, const std::string& pattern) {
    return std::regex_search(text, std::regex(pattern));
}

/// A successful run whose stdout matches `pattern` and is one JSON document.
json check_json(std::initializer_list<std::string> args, const std::string& pattern) {
    const run_result r = run(args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.code == 0);
    CHECK(matches(r.out, pattern));
    json parsed;
    CHECK_NOTHROW(parsed = json::parse(r.out));
    return parsed;
}

/// Bad input: exit code 2 and exactly one line on stderr, matching `pattern`; nothing on stdout.
void check_error(std::initializer_list<std::string> args, const std::string& pattern) {
    const run_result r = run(args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(matches(r.err, pattern));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.out.empty());
}

std::string test_image(const std::string& name) { return std::string(QUADFLOW_SOURCE_DIR) + "/tests/data/" + name; }
const std::string demo_image = std::string(QUADFLOW_SOURCE_DIR) + "/apps/quadflow/data/astronaut.png";
const std::string flat = test_image("flat_64.png"), corner = test_image("corner_64.png");

std::string output(const std::string& name) {
    const std::filesystem::path dir = std::filesystem::current_path() / "test_cli_output";
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}

/// A tile of the layout JSON: x, y, w, h and denoise.
void check_tile(const json& t, std::int64_t x, std::int64_t y, std::int64_t w, std::int64_t h, double denoise) {
    INFO("tile: " << t.dump());
    CHECK(t["x"] == x);
    CHECK(t["y"] == y);
    CHECK(t["w"] == w);
    CHECK(t["h"] == h);
    CHECK(t["denoise"].get<double>() == doctest::Approx(denoise));
}

const std::string layout_start = R"(^\{"width": [0-9]+, "height": [0-9]+, "tiles": \[\{"x": )";
const std::string layout_end = R"(\}\]\}\n$)";
/// low_strength_error below 1e-4 in 0..255 units (exact to float rounding).
const std::string exact_low = R"("low_strength_error": (0,|0\.0000|[0-9.]+e-(0[5-9]|[1-9][0-9])))";

}  // namespace

// Golden values: tests/golden (make_schedule_golden.py, make_torch_randn_golden.py).
TEST_CASE("schedule, noise and toy print their golden values") {
    const json flux = check_json({"schedule", "--steps", "4"},
                                 R"(^\{"sigmas": \[1, 0\.904530766738639[0-9]*, 0\.759510916949111[0-9]*, )"
                                 R"(0\.512844101509133[0-9]*, 0\]\}\n$)");
    CHECK(flux["sigmas"].size() == 5);
    check_json({"schedule", "--steps", "4", "--scheduler", "comfy-simple", "--denoise", "0.5"},
               R"(^\{"sigmas": \[0\.759510916949111[0-9]*, 0\.654566803387617)");
    check_json({"schedule", "--steps", "20", "--strength", "0.5", "--strength-rule", "diffusers"},
               R"(^\{"sigmas": \[0\.759510916949111[0-9]*, 0\.72098027574643)");
    check_json({"schedule", "--steps", "20", "--strength", "0.5", "--strength-rule", "sdcpp"},
               R"(^\{"sigmas": \[0\.794239257068268)");
    const json noise = check_json({"noise", "--seed", "42", "--shape", "1,16,8,8"},
                                  R"(^\{"values": \[1\.9269153, 1\.4872841, 0\.9007172)");
    CHECK(noise["values"].size() == 16 * 8 * 8);
    check_json({"toy", "--sampler", "euler", "--steps", "4"}, R"(^\{"x": 0\.204371[0-9]*\}\n$)");
    check_json({"toy", "--sampler", "heun", "--steps", "4"}, R"(^\{"x": 0\.217605[0-9]*\}\n$)");
    check_json({"toy", "--sampler", "dpmpp-2m", "--steps", "4"}, R"(^\{"x": 0\.212485[0-9]*\}\n$)");
    check_json({"noise", "--seed", "18446744073709551615", "--shape", "1,1,1,1"}, R"(^\{"values": \[)");
}

// Tile layouts; the images come from tests/data/make_images.py.
TEST_CASE("quadtree of a flat image is one tile") {
    const json layout = check_json({"quadtree", "--image", flat}, layout_start + ".*" + layout_end);
    CHECK(layout["width"] == 64);
    CHECK(layout["height"] == 64);
    REQUIRE(layout["tiles"].size() == 1);
    check_tile(layout["tiles"][0], 0, 0, 64, 64, 0.2);
}

TEST_CASE("quadtree of a detailed corner, with --json and --overlay") {
    // The 16x16 checkerboard corner splits down to 8 px leaves: 4 of 8 px, 3 of 16 px, 3 of 32 px.
    const std::string json_path = output("corner_64.json");
    const json layout = check_json({"quadtree", "--image", corner, "--denoise-rule", "depth", "--json", json_path,
                                    "--overlay", output("corner_64_overlay.png")},
                                   layout_start + ".*" + layout_end);
    CHECK(layout["width"] == 64);
    CHECK(layout["height"] == 64);
    REQUIRE(layout["tiles"].size() == 10);
    check_tile(layout["tiles"][0], 0, 0, 8, 8, 0.8);
    check_tile(layout["tiles"][6], 16, 16, 16, 16, 0.5);
    check_tile(layout["tiles"][9], 32, 32, 32, 32, 0.2);
    std::ifstream file(json_path);
    CHECK(json::parse(file) == layout);

    const json depth_1 = check_json({"quadtree", "--image", corner, "--max-depth", "1"}, layout_start);
    REQUIRE(depth_1["tiles"].size() == 4);
    check_tile(depth_1["tiles"][3], 32, 32, 32, 32, 0.2);
}

TEST_CASE("grid layouts") {
    // 1024 px = 128 latent px, tiles of 96 with overlap 8: two per axis, at 0 and 32 latent px.
    const json grid = check_json({"grid", "--width", "1024", "--height", "1024"}, layout_start + ".*" + layout_end);
    CHECK(grid["width"] == 1024);
    CHECK(grid["height"] == 1024);
    REQUIRE(grid["tiles"].size() == 4);
    check_tile(grid["tiles"][0], 0, 0, 768, 768, 1);
    check_tile(grid["tiles"][3], 256, 256, 768, 768, 1);
    const json small = check_json({"grid", "--width", "512", "--height", "256"},
                                  R"(^\{"width": 512, "height": 256, "tiles": \[\{"x": 0, "y": 0, "w": 512, "h": 256, )"
                                  R"("denoise": 1\}\]\}\n$)");
    CHECK(small["tiles"].size() == 1);
    // bench/README.md's grid command (bench/peers/run_peers.py runs the same).
    check_json({"grid", "--width", "512", "--height", "512", "--latent-scale", "1", "--tile", "96", "--overlap", "8"},
               R"(^\{"width": 512, "height": 512, "tiles": \[)");
}

// img2img (pixel space): the report JSON.
TEST_CASE("img2img strength keeps preserved tiles exactly") {
    const json report = check_json({"img2img", "--image", demo_image, "--out", output("img2img_strength.png"),
                                    "--policy", "strength", "--min-denoise", "0", "--steps", "8", "--leaf-tiles"},
                                   exact_low);
    CHECK(report["low_strength_error"].get<double>() < 1e-4);
}

TEST_CASE("img2img scale freezes preserved tiles in noise") {
    const json report = check_json({"img2img", "--image", demo_image, "--out", output("img2img_scale.png"), "--policy",
                                    "scale", "--min-denoise", "0", "--steps", "8", "--leaf-tiles"},
                                   R"("low_strength_error": ([4-9][0-9]|1[0-9][0-9])\.)");
    CHECK(report["low_strength_error"].get<double>() >= 40);
}

TEST_CASE("img2img seed_ramp reads --skip-below: the skipped leaves never reach the model") {
    const run_result all = run({"img2img", "--image", corner, "--out", output("seed_ramp.png"), "--policy", "seed_ramp",
                                "--steps", "4", "--leaf-tiles"});
    const run_result skipping = run({"img2img", "--image", corner, "--out", output("seed_ramp_skip.png"), "--policy",
                                     "seed_ramp", "--steps", "4", "--leaf-tiles", "--skip-below", "32"});
    INFO("stderr: " << all.err << skipping.err);
    REQUIRE(all.code == 0);
    REQUIRE(skipping.code == 0);
    const auto calls_all = json::parse(all.out)["model_calls"].get<std::int64_t>();
    const auto calls_skipping = json::parse(skipping.out)["model_calls"].get<std::int64_t>();
    CHECK(calls_all > 0);
    CHECK(calls_skipping < calls_all);
}

TEST_CASE("img2img mask with a slope-limited map keeps preserved tiles exactly") {
    check_json({"img2img", "--image", corner, "--out", output("img2img_mask_slope.png"), "--policy", "mask",
                "--mask-slope", "0.1", "--min-denoise", "0", "--steps", "4"},
               exact_low);
}

TEST_CASE("img2img model tiles: no tile below the minimum, preserved leaves exact") {
    // Model tiles of 32..64 px over corner_64's 10 quadtree leaves: four of 32 px; the mask keeps d = 0 leaves exactly.
    const json report = check_json(
        {"img2img", "--image", corner, "--out", output("img2img_model_tiles.png"), "--model-tiles", "--min-model-tile",
         "32", "--max-model-tile", "64", "--align-model", "2", "--min-denoise", "0", "--steps", "4"},
        R"("policy": "mask", "low_strength_error": (0|[0-9.]+e-(0[5-9]|[1-9][0-9])),.*"tiles": 4, "fine_tiles": 10, )"
        R"("smallest_tile_side": 32,)");
    CHECK(report["tiles"] == 4);
}

TEST_CASE("img2img runs on model tiles by default, with the mask policy") {
    // Model-sized tiles (64..128 latent px at latent scale 1 here: one tile for a 64 px image).
    check_json({"img2img", "--image", corner, "--out", output("img2img_default_tiles.png"), "--steps", "4"},
               R"("policy": "mask", "low_strength_error": (0|[0-9.]+e-(0[5-9]|[1-9][0-9])),.*"tiles": 1, )"
               R"("fine_tiles": 10, "smallest_tile_side": 64,)");
}

TEST_CASE("img2img's report states its schedule: FLUX's shift from the model tile, or with --shift-from the canvas") {
    // The photo is 512 px; model tiles are at most 128 px: mu = flux_mu(128, 128), not the canvas's flux_mu(512, 512).
    const json tile = check_json({"img2img", "--image", demo_image, "--out", output("img2img_shift_tile.png"),
                                  "--steps", "2", "--strength-map", "0"},
                                 R"("shift_from": "tile", "shift_size": \[128, 128\], "mu": 0\.4674)");
    CHECK(tile["sigmas"].get<std::vector<double>>() ==
          quadflow::schedule::flux_mu_schedule(2, quadflow::schedule::flux_mu(128, 128)));
    const json canvas = check_json({"img2img", "--image", demo_image, "--out", output("img2img_shift_canvas.png"),
                                    "--steps", "2", "--strength-map", "0", "--shift-from", "canvas"},
                                   R"("shift_from": "canvas", "shift_size": \[512, 512\], )");
    CHECK(canvas["mu"].get<double>() == quadflow::schedule::flux_mu(512, 512));
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--shift-from", "image"},
                "--shift-from: image not in \\{tile,canvas\\}");
}

TEST_CASE("img2img --leaf-tiles sends the quadtree's leaves to the model") {
    check_json(
        {"img2img", "--image", corner, "--out", output("img2img_seed_tiles.png"), "--steps", "4", "--leaf-tiles"},
        R"("policy": "strength", .*"tiles": 10, "fine_tiles": 10,)");
}

TEST_CASE("img2img --policy floor_070 is the floor policy under its former name") {
    check_json({"img2img", "--image", corner, "--out", output("img2img_floor.png"), "--steps", "2", "--leaf-tiles",
                "--policy", "floor_070"},
               R"("policy": "floor", )");
}

TEST_CASE("img2img default min denoise is the demo's 0: preserved tiles stay exact") {
    check_json({"img2img", "--image", corner, "--out", output("default_min_denoise.png"), "--steps", "2"}, exact_low);
}

/// A 64 x 64 regions PNG (left half white, right half black, one pixel `odd` at (40, 5)) and a region table; returns
/// their paths.
std::pair<std::string, std::string> regions_files(const std::string& name, const std::string& table,
                                                  quadflow::app::rgb odd = {0, 0, 0}) {
    quadflow::app::rgb_image regions(64, 64);
    for (std::int64_t y = 0; y < 64; ++y)
        for (std::int64_t x = 0; x < 64; ++x)
            regions.set(x, y, x < 32 ? quadflow::app::rgb{255, 255, 255} : quadflow::app::rgb{0, 0, 0});
    regions.set(40, 5, odd);
    const std::string png = output(name + ".png"), json_path = output(name + ".json");
    quadflow::app::save_png(png, regions);
    std::ofstream(json_path) << table;
    return {png, json_path};
}

const std::string two_regions = R"({"regions": [
    {"name": "left", "color": "#ffffff", "condition": 1, "target": "#2050e0", "strength": 1.0},
    {"name": "right", "color": "#000000", "condition": 0, "strength": 0}]})";

TEST_CASE("img2img --regions: each tile takes its region's condition; a region at strength 0 stays the original") {
    const auto [png, table] = regions_files("regions", two_regions);
    const std::string out = output("img2img_regions.png");
    const json report = check_json({"img2img", "--image", corner, "--out", out, "--steps", "4", "--leaf-tiles",
                                    "--policy", "mask", "--regions", png, "--region-table", table},
                                   R"("tiles_by_condition": \[[0-9]+, [0-9]+\])");
    const auto by_condition = report["tiles_by_condition"].get<std::vector<std::int64_t>>();
    REQUIRE(by_condition.size() == 2);
    CHECK(by_condition[0] > 0);
    CHECK(by_condition[1] > 0);
    CHECK(by_condition[0] + by_condition[1] == report["tiles"].get<std::int64_t>());
    // The right half (strength 0) is the input exactly; the left half (strength 1, pulled toward blue) changed.
    const quadflow::app::rgb_image input = quadflow::app::load_rgb(corner), result = quadflow::app::load_rgb(out);
    int right_changed = 0, left_changed = 0;
    for (std::int64_t y = 0; y < 64; ++y)
        for (std::int64_t x = 0; x < 64; ++x)
            (x < 32 ? left_changed : right_changed) += input.at(x, y) == result.at(x, y) ? 0 : 1;
    CHECK(right_changed == 0);
    CHECK(left_changed > 1000);
}

TEST_CASE("img2img --regions errors name the pixel, the table entry or the file") {
    const auto [odd_png, table] = regions_files("regions_odd", two_regions, {1, 2, 3});
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--regions", odd_png, "--region-table", table},
                R"(--regions .*regions_odd\.png pixel \(x=40, y=5\) = #010203: is not a colour of the region table)");
    const auto [png, unused] = regions_files("regions_ok", two_regions);
    const auto [big, big_table] = regions_files("regions_other", two_regions);
    check_error(
        {"img2img", "--image", demo_image, "--out", output("r.png"), "--regions", big, "--region-table", big_table},
        R"(--regions = 64x64: must be the image's size, 512x512)");
    const auto [p1, bad_json] = regions_files("regions_bad_json", "{\"regions\": [");
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--regions", p1, "--region-table", bad_json},
                R"(--region-table .*regions_bad_json\.json = not JSON: )");
    const auto [p2, unknown] =
        regions_files("regions_unknown", R"({"regions": [{"color": "#ffffff", "condition": 0, "prompt": "a suit"}]})");
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--regions", p2, "--region-table", unknown},
                R"(regions\[0\]\.prompt = "a suit": is not a region field)");
    const auto [p3, strong] =
        regions_files("regions_strong", R"({"regions": [{"color": "#ffffff", "condition": 0, "strength": 1.5}]})");
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--regions", p3, "--region-table", strong},
                R"(regions\[0\]\.strength = 1\.5: must be a number in \[0, 1\])");
    const auto [p4, twice] =
        regions_files("regions_twice",
                      R"({"regions": [{"color": "#ffffff", "condition": 0}, {"color": "#FFFFFF", "condition": 1}]})");
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--regions", p4, "--region-table", twice},
                R"(regions\[1\]\.color = #ffffff: is also regions\[0\]'s colour)");
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--leaf-tiles", "--policy", "strength",
                 "--regions", png, "--region-table", table},
                R"(--region-table strength = set: paints the mask policy's per-pixel strength)");
    check_error({"img2img", "--image", corner, "--out", output("r.png"), "--regions", png}, "--region-table");
}

TEST_CASE("img2img --stats writes the report") {
    const std::string stats = output("stats.json");
    const json report =
        check_json({"img2img", "--image", corner, "--out", output("stats.png"), "--steps", "1", "--stats", stats},
                   R"(^\{"policy")");
    std::ifstream file(stats);
    CHECK(json::parse(file) == report);
}

TEST_CASE("a tab in a path keeps the demo's report.json valid JSON") {
    const std::filesystem::path dir = output("tab\there");
    std::filesystem::create_directories(dir);
    const std::string image = (dir / "corner\t64.png").string();
    std::filesystem::copy_file(corner, image, std::filesystem::copy_options::overwrite_existing);
    const run_result r = run({"demo", "--image", image, "--out-dir", (dir / "demo").string(), "--steps", "1"});
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    std::ifstream file(dir / "demo" / "report.json");
    const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    CHECK(text.find("\\t64.png\"") != std::string::npos);
    json report;
    REQUIRE_NOTHROW(report = json::parse(text));
    CHECK(report["image"] == image);
    CHECK(report["policies"].size() == 12);
}

TEST_CASE("the demo shows the seed's options read both ways, with their measured difference") {
    const std::filesystem::path dir = output("demo_readings");
    const run_result r = run({"demo", "--image", corner, "--out-dir", dir.string(), "--steps", "4"});
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    for (const char* row : {"scale", "seed_scale", "floor", "seed_floor", "progress_ramp", "seed_ramp"})
        CHECK(matches(r.out, std::string("\\n") + row + " +[0-9]"));
    CHECK(matches(
        r.out,
        R"(scale +vs seed_scale +[0-9]+\.[0-9]{2}\n +floor +vs seed_floor +[0-9]+\.[0-9]{2}\n +progress_ramp +vs seed_ramp +[0-9]+\.[0-9]{2}\n)"));
    std::ifstream file(dir / "report.json");
    const json report = json::parse(file);
    for (const char* pair : {"scale vs seed_scale", "floor vs seed_floor", "progress_ramp vs seed_ramp"}) {
        CAPTURE(pair);
        REQUIRE(report["document_vs_code"].contains(pair));
        CHECK(report["document_vs_code"][pair].get<double>() > 1.0);  // two different behaviours
    }
}

// Bad input (docs/errors.md): each exits with code 2 and one line naming the flag or parameter and the value.
TEST_CASE("unknown flag") { check_error({"schedule", "--frobnicate", "3"}, "--frobnicate"); }
TEST_CASE("bad scheduler") { check_error({"schedule", "--scheduler", "karras"}, "--scheduler.*karras"); }
TEST_CASE("denoise out of range") { check_error({"schedule", "--denoise", "1.5"}, R"(denoise = 1\.5)"); }
TEST_CASE("strength out of range") { check_error({"schedule", "--strength", "-0.1"}, R"(strength = -0\.1)"); }
TEST_CASE("width not a multiple of 16") { check_error({"schedule", "--width", "1000"}, "width = 1000"); }
TEST_CASE("bad sampler") { check_error({"toy", "--sampler", "ddim"}, "--sampler.*ddim"); }
TEST_CASE("noise shape") { check_error({"noise", "--seed", "1", "--shape", "1,2,3"}, "--shape"); }
TEST_CASE("quadtree missing image") {
    check_error({"quadtree", "--image", test_image("no_such_image.png")},
                R"(--image: cannot read image '.*no_such_image\.png': No such file)");
}
TEST_CASE("quadtree truncated image") {
    check_error({"quadtree", "--image", test_image("truncated.png")},
                R"(--image: cannot read image '.*truncated\.png': Corrupt PNG)");
}
TEST_CASE("quadtree text file named .png") {
    check_error({"quadtree", "--image", test_image("not_an_image.png")},
                R"(not_an_image\.png': Image not of any known type)");
}
TEST_CASE("quadtree image over the pixel limit") {
    check_error({"quadtree", "--image", test_image("huge_rgb_100000.png")},
                R"(huge_rgb_100000\.png': 100000x100000 = 10000000000 pixels is more than the limit of 268435456)");
}
TEST_CASE("quadtree --max-pixels") {
    check_error({"quadtree", "--image", flat, "--max-pixels", "100"},
                "64x64 = 4096 pixels is more than the limit of 100");
}
TEST_CASE("quadtree threshold -1") {
    check_error({"quadtree", "--image", flat, "--threshold", "-1"}, "--threshold = -1: must be finite and > 0");
}
TEST_CASE("quadtree unknown flag") { check_error({"quadtree", "--image", flat, "--frobnicate", "3"}, "--frobnicate"); }
TEST_CASE("quadtree bad denoise rule") {
    check_error({"quadtree", "--image", flat, "--denoise-rule", "cubic"}, "--leaf-rule.*cubic");
}
TEST_CASE("quadtree min denoise above max") {
    check_error({"quadtree", "--image", flat, "--min-denoise", "0.9"},
                R"(--min-denoise = 0\.9: must be <= --max-strength = 0\.8)");
}
TEST_CASE("quadtree align not a multiple of the latent scale") {
    check_error({"quadtree", "--image", flat, "--align", "12"}, "--align = 12");
}
TEST_CASE("quadtree without --image") { check_error({"quadtree"}, "--image is required"); }
TEST_CASE("quadtree unwritable --json") {
    check_error({"quadtree", "--image", flat, "--json", "/nonexistent_quadflow_dir/out.json"},
                R"(--json: cannot write '/nonexistent_quadflow_dir/out\.json')");
}
TEST_CASE("grid width not a multiple of the latent scale") {
    check_error({"grid", "--width", "1020", "--height", "1024"},
                "--width = 1020: must be a positive multiple of --latent-scale = 8");
}
TEST_CASE("grid overlap not below the tile") {
    check_error({"grid", "--width", "1024", "--height", "1024", "--overlap", "96"},
                R"(--overlap = 96: must be in \[0, --tile\))");
}
TEST_CASE("grid without --height") { check_error({"grid", "--width", "1024"}, "--height is required"); }
TEST_CASE("img2img unknown policy") {
    check_error({"img2img", "--image", demo_image, "--out", output("x.png"), "--policy", "magic"}, "--policy.*magic");
}
TEST_CASE("img2img model tiles max below twice the min") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--model-tiles", "--max-model-tile", "100"},
                "--max-model-tile = 100: must be >= 127");
}
TEST_CASE("img2img model tile size with --leaf-tiles") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--min-model-tile", "32", "--leaf-tiles"},
                "--leaf-tiles excludes --min-model-tile");
}
TEST_CASE("img2img mask slope 0") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--policy", "mask", "--mask-slope", "0",
                 "--steps", "1"},
                "slope = 0: must be > 0");
}
TEST_CASE("img2img mask of the wrong size") {
    check_error({"img2img", "--image", demo_image, "--out", output("x.png"), "--policy", "mask", "--mask", flat},
                "--mask = .*64x64.*512x512");
}
TEST_CASE("img2img missing image") {
    check_error({"img2img", "--image", std::string(QUADFLOW_SOURCE_DIR) + "/no_such.png", "--out", output("x.png")},
                "no_such.png");
}
TEST_CASE("img2img denoise out of range") {
    check_error({"img2img", "--image", demo_image, "--out", output("x.png"), "--denoise", "0"}, "--denoise = 0");
}
TEST_CASE("schedule more than max_steps") {
    check_error({"schedule", "--steps", "2000000"}, R"(--steps = 2000000: must be an integer in \[1, 10000\])");
}
TEST_CASE("schedule --denoise with --strength") {
    check_error({"schedule", "--denoise", "0.5", "--strength", "0.5"},
                R"(--denoise = 0\.5: cannot be combined with --strength)");
}
TEST_CASE("schedule mu nan") { check_error({"schedule", "--mu", "nan"}, "mu = nan: must be finite"); }
TEST_CASE("schedule static shift 0") {
    check_error({"schedule", "--scheduler", "shift", "--shift", "0"}, "shift = 0: must be finite and > 0");
}
TEST_CASE("noise too many values") {
    check_error({"noise", "--seed", "1", "--shape", "1,16,1024,1024"},
                R"(--shape = \[1, 16, 1024, 1024\]: must have at most 1048576 values)");
}
TEST_CASE("noise negative extent") {
    check_error({"noise", "--seed", "1", "--shape", "1,-1,2,2"},
                R"(--shape = \[1, -1, 2, 2\]: every extent must be >= 0)");
}
TEST_CASE("toy x1 nan") { check_error({"toy", "--x1", "nan"}, R"(x\[0\] = nan: the starting canvas must be finite)"); }
TEST_CASE("toy negative data std") { check_error({"toy", "--data-std", "-1"}, "--data-std = -1: must be >= 0"); }
TEST_CASE("quadtree image is a directory") {
    check_error({"quadtree", "--image", std::string(QUADFLOW_SOURCE_DIR) + "/tests/data"},
                "--image: cannot read image '.*': Is a directory");
}
TEST_CASE("quadtree latent scale 0") {
    check_error({"quadtree", "--image", flat, "--latent-scale", "0"}, "--latent-scale = 0: must be > 0");
}
TEST_CASE("quadtree max tile below two leaves") {
    check_error({"quadtree", "--image", flat, "--max-tile", "8"}, "--max-tile = 8: must be 0 or >= 16 px");
}
TEST_CASE("quadtree threshold nan") {
    check_error({"quadtree", "--image", flat, "--threshold", "nan"}, "--threshold = nan: must be finite and > 0");
}
TEST_CASE("quadtree max pixels 0") {
    check_error({"quadtree", "--image", flat, "--max-pixels", "0"}, "--max-pixels = 0: must be > 0");
}
TEST_CASE("grid tile 0") {
    check_error({"grid", "--width", "1024", "--height", "1024", "--tile", "0"}, "--tile = 0: must be > 0");
}
TEST_CASE("grid wider than max_layout_side") {
    check_error({"grid", "--width", "1073741824", "--height", "1024"},
                "--width = 1073741824: must be at most max_layout_side");
}
TEST_CASE("grid more than max_grid_tiles") {
    check_error({"grid", "--width", "8200", "--height", "8200", "--tile", "1", "--overlap", "0"},
                "--tile = 1: with --overlap = 0 gives 1050625 tiles on a 1025x1025 canvas, more than max_grid_tiles = "
                "1048576");
}
TEST_CASE("img2img tile batch 0") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--tile-batch", "0"},
                R"(--tile-batch = 0: must be an integer in \[1, 4096\])");
}
TEST_CASE("img2img unwritable output, before any work") {
    check_error({"img2img", "--image", corner, "--out", "/nonexistent_quadflow_dir/x.png", "--steps", "1"},
                R"(--out: cannot write '/nonexistent_quadflow_dir/x\.png': No such file or directory)");
}
TEST_CASE("img2img min denoise 2") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--min-denoise", "2"},
                R"(--min-denoise = 2: must be in \[0, 1\])");
}
TEST_CASE("img2img truncated image") {
    check_error({"img2img", "--image", test_image("truncated.png"), "--out", output("x.png")},
                R"(cannot read image '.*truncated\.png': Corrupt PNG)");
}
TEST_CASE("demo steps 0") {
    check_error({"demo", "--steps", "0"}, R"(--steps = 0: must be an integer in \[1, 10000\])");
}
TEST_CASE("demo output folder cannot be created") {
    check_error({"demo", "--out-dir", flat + "/demo", "--steps", "1"},
                R"(--out-dir: cannot create '.*flat_64\.png/demo')");
}
TEST_CASE("img2img skip flag with another policy") {
    check_error(
        {"img2img", "--image", corner, "--out", output("x.png"), "--policy", "strength", "--skip-below", "64"},
        R"(--skip-below = 64: only --policy skip\|seed_scale\|seed_floor\|seed_ramp reads it, not --policy strength)");
}
TEST_CASE("img2img and demo --distributed: none or mpi, and mpi only when built with MPI") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--distributed", "nccl"},
                R"(--distributed: nccl not in \{none,mpi\})");
    check_error({"demo", "--distributed", "tcp"}, R"(--distributed: tcp not in \{none,mpi\})");
    if (!quadflow::app::mpi_world::available())
        check_error({"img2img", "--image", corner, "--out", output("x.png"), "--distributed", "mpi"},
                    R"(--distributed = mpi: this quadflow was built without MPI)");
}
TEST_CASE("img2img learned-model flags: a missing model, --untiled and --strength-map with another policy") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--model", "/nonexistent/flow_unet.pt"},
                quadflow::app::learned_model::available()
                    ? R"(--model = /nonexistent/flow_unet.pt: no such file \(a TorchScript flow model)"
                    : R"(--model = /nonexistent/flow_unet.pt: this quadflow was built without LibTorch)");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--policy", "strength", "--untiled"},
                R"(--untiled = true: only --policy mask reads it, not --policy strength)");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--strength-map", "0.5", "--mask", flat},
                R"(--strength-map = 0\.5: give either --mask or --strength-map, not both)");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--strength-map", "2"},
                R"(--strength-map = 2: a constant strength must be in \[0, 1\])");
}

TEST_CASE("img2img --strength-map paints a constant, and --untiled runs one tile") {
    const json report = check_json({"img2img", "--image", corner, "--out", output("constant.png"), "--strength-map",
                                    "0.5", "--untiled", "--steps", "3"},
                                   R"("tiles": 1,)");
    CHECK(report["model_calls"].get<std::int64_t>() >= 1);
}

TEST_CASE("img2img mask flag with another policy") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--policy", "scale", "--mask-slope", "0.1"},
                R"(--mask-slope = 0\.1: only --policy mask reads it, not --policy scale)");
}
TEST_CASE("img2img preservation with another policy") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--preservation", "exact"},
                "--preservation = exact: only --policy preservation_blend reads it, not --policy mask");
}
TEST_CASE("img2img strength rule with another policy") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--policy", "mask", "--strength-rule", "bfl"},
                "--strength-rule = bfl: only --policy strength reads it, not --policy mask");
}
TEST_CASE("img2img negative seed") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--seed", "-1"},
                "--seed = -1: must be an integer");
}
TEST_CASE("img2img --out with another extension") {
    check_error({"img2img", "--image", corner, "--out", output("x.bmp")},
                R"(--out = .*x\.bmp: must end in \.png, \.jpg or \.jpeg)");
}
TEST_CASE("img2img samples in pixel space: a latent scale other than 1 is refused, never a cropped latent") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--latent-scale", "8", "--leaf-tiles"},
                "^error: --latent-scale = 8: must be 1 for img2img, which samples in pixel space");
}
TEST_CASE("img2img latent scale 3 names the flags") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--latent-scale", "3"},
                "^error: --align = 8: must be a positive multiple of --latent-scale = 3");
}
TEST_CASE("grid --overlay image of another size") {
    check_error({"grid", "--width", "128", "--height", "64", "--image", corner, "--overlay", output("x.png")},
                R"(--image = .*corner_64\.png: is 64x64 but --width x --height is 128x64)");
}
TEST_CASE("grid --overlay with another extension") {
    check_error({"grid", "--width", "64", "--height", "64", "--overlay", output("x.gif")},
                R"(--overlay = .*x\.gif: must end in \.png, \.jpg or \.jpeg)");
}

TEST_CASE("help and --version go to out, not to stderr") {
    const run_result version = run({"--version"});
    CHECK(version.code == 0);
    CHECK(version.out == std::string(QUADFLOW_VERSION_STRING) + "\n");
    CHECK(version.err.empty());
    const run_result help = run({"img2img", "--help"});
    CHECK(help.code == 0);
    CHECK(matches(help.out, "--steps INT=20 "));
    CHECK(help.err.empty());
}

// What a user meets (issue 27): the output at the input's size, alpha kept, the input replaced safely.
TEST_CASE("img2img writes the image at its own size: a size off the alignment is padded, sampled and cropped back") {
    quadflow::app::rgb_image odd(45, 30);
    for (std::int64_t y = 0; y < odd.height; ++y)
        for (std::int64_t x = 0; x < odd.width; ++x)
            odd.set(x, y, {static_cast<std::uint8_t>(x * 5), static_cast<std::uint8_t>(y * 8), 90});
    const std::string in = output("odd_45x30.png"), out = output("odd_45x30_out.png");
    quadflow::app::save_png(in, odd);
    for (const char* policy : {"mask", "strength"}) {
        const run_result r = run({"img2img", "--image", in, "--out", out, "--steps", "4", "--policy", policy});
        INFO(r.err);
        REQUIRE(r.code == 0);
        const quadflow::app::rgb_image back = quadflow::app::load_rgb(out);
        CHECK(back.width == 45);
        CHECK(back.height == 30);
    }
    // --mask and --strength-map take the image's size too.
    quadflow::app::rgb_image grey(45, 30, {255, 255, 255});
    const std::string mask = output("odd_45x30_mask.png");
    quadflow::app::save_png(mask, grey);
    CHECK(run({"img2img", "--image", in, "--out", out, "--steps", "2", "--strength-map", mask}).code == 0);
    CHECK(quadflow::app::load_rgb(out).width == 45);
    check_error({"img2img", "--image", in, "--out", out, "--strength-map", flat},
                "--strength-map = .*flat_64.png \\(64x64\\): must be 45x30, the image's size");
}

TEST_CASE("img2img keeps an RGBA image's alpha channel, and --out may be --image") {
    quadflow::app::rgb_image rgba(32, 32, {40, 120, 200});
    rgba.alpha.resize(32 * 32);
    for (std::size_t i = 0; i < rgba.alpha.size(); ++i) rgba.alpha[i] = static_cast<std::uint8_t>(i % 256);
    const std::string path = output("rgba_in_place.png");
    quadflow::app::save_png(path, rgba);
    const run_result r = run({"img2img", "--image", path, "--out", path, "--steps", "2"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    const quadflow::app::rgb_image back = quadflow::app::load_rgb(path);
    CHECK(back.alpha == rgba.alpha);
    CHECK(back.width == 32);
}

TEST_CASE("an error names the flag as the user typed it, alias or not") {
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--max-strength", "-1"},
                R"(^error: --max-strength = -1: must be in \[0, 1\])");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--max-denoise", "-1"},
                R"(^error: --max-denoise = -1: must be in \[0, 1\])");
    check_error({"quadtree", "--image", flat, "--min-strength", "0.9"},
                R"(^error: --min-strength = 0\.9: must be <= --max-strength = 0\.8)");
}

TEST_CASE("a report measure that does not apply is null, not 0") {
    // Every leaf at strength 0.3: no tile reaches 0.5, so there is no high-strength region to measure.
    const json report = check_json({"img2img", "--image", corner, "--out", output("no_high.png"), "--steps", "2",
                                    "--min-strength", "0.3", "--max-strength", "0.3"},
                                   R"("high_strength_change": null)");
    CHECK(report["high_strength_change"].is_null());
    CHECK(report["low_strength_error"].is_number());
}

TEST_CASE("img2img's image-read errors name the flag that named the file") {
    check_error({"img2img", "--image", "/nonexistent/in.png", "--out", output("x.png")},
                R"(^error: --image: cannot read image '/nonexistent/in.png': No such file or directory)");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--strength-map", "/nonexistent/map.png"},
                R"(^error: --strength-map: cannot read image '/nonexistent/map.png': No such file or directory)");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--mask", "/nonexistent/mask.png"},
                R"(^error: --mask: cannot read image '/nonexistent/mask.png': No such file or directory)");
}

TEST_CASE("a 1x1 image is sampled like any other: padded to the alignment and cropped back") {
    const std::string tiny = output("one_pixel.png"), out = output("one_pixel_out.png");
    quadflow::app::save_png(tiny, quadflow::app::rgb_image(1, 1, {200, 10, 10}));
    const run_result r = run({"img2img", "--image", tiny, "--out", out, "--steps", "2"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(quadflow::app::load_rgb(out).width == 1);
}

TEST_CASE("upscale: resize by --scale, then tiled img2img; its errors name --scale") {
    const std::string out = output("upscaled.png");
    const json report =
        check_json({"upscale", "--image", corner, "--scale", "2", "--out", out, "--steps", "2"}, R"("policy": "mask")");
    const quadflow::app::rgb_image big = quadflow::app::load_rgb(out);
    CHECK(big.width == 128);
    CHECK(big.height == 128);
    CHECK(report["tiles"].get<int>() >= 1);
    // A scale that lands off the alignment still gives round(w * scale): 64 * 1.3 = 83.2 -> 83.
    CHECK(run({"upscale", "--image", corner, "--scale", "1.3", "--out", out, "--steps", "1"}).code == 0);
    CHECK(quadflow::app::load_rgb(out).width == 83);
    check_error({"upscale", "--image", corner, "--scale", "0", "--out", out}, R"(^error: --scale = 0: must be > 0)");
    check_error({"upscale", "--image", corner, "--scale", "2000", "--out", out},
                R"(^error: --scale = 2000: makes the 64x64 image 128000x128000; each side must be in \[1, 65536\])");
    check_error({"upscale", "--image", corner, "--scale", "500", "--out", out},
                R"(^error: --scale = 500: makes the 64x64 image 32000x32000; .*at most 268435456 pixels in all)");
    const run_result help = run({"--help"});
    CHECK(help.out.find("upscale") != std::string::npos);
    const run_result upscale_help = run({"upscale", "--help"});
    CHECK(upscale_help.out.find("--scale") != std::string::npos);
    CHECK(upscale_help.out.find("Catmull-Rom") != std::string::npos);
}

TEST_CASE("one limit per flag, stated in --help: steps, tile batch and overlap out of range are refused alike") {
    for (const std::string steps : {"2000000000", "99999999999", "-1", "2.5"})
        check_error({"img2img", "--image", corner, "--out", output("x.png"), "--steps", steps},
                    "^error: --steps = " + std::regex_replace(steps, std::regex(R"(\.)"), R"(\.)") +
                        R"(: must be an integer in \[1, 10000\]\n$)");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--overlap", "100000"},
                R"(^error: --overlap = 100000: must be an integer in \[0, 4096\])");
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--overlap", "-3"},
                R"(^error: --overlap = -3: must be an integer in \[0, 4096\])");
    // Model tiles of at most 128 px take at most 64 px of overlap: 100 is refused, not quietly made 64.
    check_error({"img2img", "--image", corner, "--out", output("x.png"), "--overlap", "100"},
                R"(^error: --overlap = 100: must be at most 64 px, half of --max-model-tile \(128 latent px\))");
    const run_result help = run({"img2img", "--help"});
    CHECK(help.out.find("Sampling steps (1..10000)") != std::string::npos);
    CHECK(help.out.find("Tiles per model call (1..4096)") != std::string::npos);
}
