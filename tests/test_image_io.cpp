// Tests of the examples' image loading and saving (stb), the drawing helpers and the tile overlay.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow_app/file_io.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"
#include "quadflow_app/overlay.hpp"

using namespace quadflow;
using app::rgb;
using app::rgb_image;

namespace {

std::string data_file(const std::string& name) { return std::string(QUADFLOW_SOURCE_DIR) + "/tests/data/" + name; }

doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

/// A file name in the temporary directory, unique to this process, removed when the guard goes out of scope.
struct temporary_file {
    std::filesystem::path path;
    explicit temporary_file(const std::string& name)
        : path(std::filesystem::temp_directory_path() /
               ("quadflow_test_image_io_" + std::to_string(::getpid()) + "_" + name)) {}
    ~temporary_file() {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
};

rgb_image gradient(std::int64_t width, std::int64_t height) {
    rgb_image image(width, height);
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x)
            image.set(x, y, {std::uint8_t(x * 17 % 256), std::uint8_t(y * 29 % 256), std::uint8_t((x * y) % 256)});
    return image;
}

tile::layout_tile make_tile(std::int64_t id, rect core, double denoise, int latent_scale) {
    tile::layout_tile t;
    t.id = id;
    t.core = core;
    t.padded = core;
    t.strength = denoise;
    t.pixel_core = {core.x * latent_scale, core.y * latent_scale, core.w * latent_scale, core.h * latent_scale};
    return t;
}

/// An 8x8 latent canvas (64x64 image pixels) split into four 4x4 quadrants with different denoise values.
tile::layout quadrant_layout() {
    tile::layout l;
    l.width = 8;
    l.height = 8;
    l.latent_scale = 8;
    l.tiles = {make_tile(0, {0, 0, 4, 4}, 0.8, 8), make_tile(1, {4, 0, 4, 4}, 0.2, 8),
               make_tile(2, {0, 4, 4, 4}, 0.5, 8), make_tile(3, {4, 4, 4, 4}, 0.35, 8)};
    tile::validate(l);
    return l;
}

}  // namespace

TEST_CASE("save_png and load_rgb round-trip RGB8 pixels exactly") {
    const rgb_image original = gradient(37, 19);
    temporary_file file("round_trip.png");
    app::save_png(file.path.string(), original);
    const rgb_image loaded = app::load_rgb(file.path.string());
    CHECK(loaded.width == 37);
    CHECK(loaded.height == 19);
    CHECK(loaded.pixels == original.pixels);

    const tile::rgb_image_view view = loaded.view();
    CHECK(view.data == loaded.pixels.data());
    CHECK(view.width == 37);
    CHECK(view.height == 19);
    CHECK(view.row_stride == 37 * 3);
}

TEST_CASE("load_rgb reads the committed test images") {
    const rgb_image flat = app::load_rgb(data_file("flat_64.png"));
    CHECK(flat.width == 64);
    CHECK(flat.height == 64);
    CHECK(flat.at(10, 50) == rgb{128, 128, 128});
    const rgb_image corner = app::load_rgb(data_file("corner_64.png"));
    CHECK(corner.at(0, 0) == rgb{0, 0, 0});
    CHECK(corner.at(2, 0) == rgb{255, 255, 255});
    CHECK(corner.at(40, 40) == rgb{128, 128, 128});
}

TEST_CASE("load_rgb refuses an image over the pixel limit from its header, before decoding") {
    // The file is 66 bytes: a header declaring 20000x20000 grey pixels and no image data. Decoding would need
    // 1.2 GB for RGB; the size check must come first.
    const std::string huge = data_file("huge_gray_20000.png");
    CHECK_THROWS_WITH_AS(app::load_rgb(huge),
                         doctest::Contains("20000x20000 = 400000000 pixels is more than the limit of 268435456"),
                         io_error);
    CHECK_THROWS_WITH_AS(app::load_rgb(huge), contains(huge), io_error);
    // 100000x100000 RGB, beyond stb_image's own limit: the error still names the declared size.
    CHECK_THROWS_WITH_AS(app::load_rgb(data_file("huge_rgb_100000.png")),
                         doctest::Contains("100000x100000 = 10000000000 pixels is more than the limit"), io_error);
    CHECK_THROWS_WITH_AS(app::load_rgb(data_file("flat_64.png"), 4095),
                         doctest::Contains("64x64 = 4096 pixels is more than the limit of 4095"), io_error);
    CHECK(app::load_rgb(data_file("flat_64.png"), 4096).width == 64);
    CHECK_THROWS_WITH_AS(app::load_rgb(data_file("flat_64.png"), 0), doctest::Contains("max_pixels = 0"),
                         invalid_argument);
}

TEST_CASE("load_rgb names the path and the reason for missing, truncated and non-image files") {
    const std::string missing = data_file("no_such_image.png");
    CHECK_THROWS_WITH_AS(app::load_rgb(missing), contains(missing + "': No such file or directory"), io_error);
    const std::string truncated = data_file("truncated.png");
    CHECK_THROWS_WITH_AS(app::load_rgb(truncated), contains("cannot read image '" + truncated + "': Corrupt PNG"),
                         io_error);
    const std::string text = data_file("not_an_image.png");
    CHECK_THROWS_WITH_AS(app::load_rgb(text), contains("cannot read image '" + text + "': Image not of any known type"),
                         io_error);
}

TEST_CASE("save_png reports an unwritable path and an empty image") {
    const std::string bad = data_file("no_such_directory/out.png");
    CHECK_THROWS_WITH_AS(app::save_png(bad, gradient(4, 4)), contains("cannot write '" + bad + "': "), io_error);
    temporary_file file("empty.png");
    CHECK_THROWS_WITH_AS(app::save_png(file.path.string(), rgb_image{}), doctest::Contains("unsupported size 0x0"),
                         io_error);
}

TEST_CASE(
    "resize: a box halving is the mean of each 2 x 2 block; Catmull-Rom interpolates and keeps flat images flat") {
    rgb_image image(6, 4);
    for (std::int64_t y = 0; y < 4; ++y)
        for (std::int64_t x = 0; x < 6; ++x)
            image.set(x, y,
                      rgb{static_cast<std::uint8_t>(40 * x + 10 * y), static_cast<std::uint8_t>(200 - 30 * y),
                          static_cast<std::uint8_t>((x * 37 + y * 91) % 256)});
    const rgb_image half = app::resize(image, 3, 2, app::resize_filter::box);
    REQUIRE(half.width == 3);
    REQUIRE(half.height == 2);
    for (std::int64_t y = 0; y < 2; ++y)
        for (std::int64_t x = 0; x < 3; ++x)
            for (int c = 0; c < 3; ++c) {
                double mean = 0;
                for (std::int64_t dy = 0; dy < 2; ++dy)
                    for (std::int64_t dx = 0; dx < 2; ++dx)
                        mean += image.pixels[static_cast<std::size_t>(((2 * y + dy) * 6 + 2 * x + dx) * 3 + c)] / 4.0;
                CHECK(std::abs(half.pixels[static_cast<std::size_t>((y * 3 + x) * 3 + c)] - mean) <= 0.5 + 1e-9);
            }
    const rgb_image flat(5, 7, rgb{12, 130, 250});
    const rgb_image up = app::resize(flat, 10, 14, app::resize_filter::catmull_rom);
    CHECK(up.width == 10);
    CHECK(up.height == 14);
    CHECK(up.pixels == rgb_image(10, 14, rgb{12, 130, 250}).pixels);
    // A horizontal ramp stays a monotone ramp inside (Catmull-Rom reproduces linear functions).
    rgb_image ramp(8, 2);
    for (std::int64_t y = 0; y < 2; ++y)
        for (std::int64_t x = 0; x < 8; ++x) ramp.set(x, y, rgb{static_cast<std::uint8_t>(20 + 30 * x), 0, 0});
    const rgb_image ramp_up = app::resize(ramp, 16, 4, app::resize_filter::catmull_rom);
    for (std::int64_t x = 3; x < 13; ++x) CHECK(ramp_up.at(x + 1, 1).r > ramp_up.at(x, 1).r);
    CHECK_THROWS_WITH_AS(app::resize(image, 0, 4, app::resize_filter::box),
                         "resize size = 0x4: must be 1x1 to 65536x65536 px", invalid_argument);
    CHECK_THROWS_WITH_AS(app::resize(rgb_image{}, 4, 4, app::resize_filter::box),
                         "image = 0x0: must be 1x1 to 65536x65536 px to resize", invalid_argument);
}

TEST_CASE("contact_sheet lays panels out in rows of `columns` with their captions below") {
    const rgb_image red(10, 6, rgb{255, 0, 0}), blue(4, 8, rgb{0, 0, 255});
    const rgb_image sheet = app::contact_sheet({{red, {"a"}}, {blue, {"b", "detail"}}, {red, {"c"}}}, 2);
    // Cells are as large as the largest panel (10 x 8); margins of 8 px; captions of a title and one detail line.
    CHECK(sheet.width == 2 * (10 + 8) + 8);
    const std::int64_t label = app::text_height(2) + 6 + app::text_height(1) + 5 + 8;
    CHECK(sheet.height == 2 * (8 + label + 8) + 8);
    CHECK(sheet.at(8, 8) == rgb{255, 0, 0});
    CHECK(sheet.at(8 + 18, 8) == rgb{0, 0, 255});
    CHECK(sheet.at(8, 8 + 8 + label + 8) == rgb{255, 0, 0});
    CHECK_THROWS_WITH_AS(app::contact_sheet({{red, {"a"}}}, 0), "columns = 0: must be >= 1", invalid_argument);
}

TEST_CASE("drawing helpers clip to the image") {
    rgb_image image(10, 8, {1, 2, 3});
    app::fill_rect(image, {-5, 6, 100, 100}, {9, 9, 9});
    CHECK(image.at(0, 5) == rgb{1, 2, 3});
    CHECK(image.at(0, 6) == rgb{9, 9, 9});
    CHECK(image.at(9, 7) == rgb{9, 9, 9});

    rgb_image outline(10, 10);
    app::draw_rect_outline(outline, {2, 2, 6, 6}, {255, 0, 0}, 2);
    CHECK(outline.at(2, 2) == rgb{255, 0, 0});
    CHECK(outline.at(3, 5) == rgb{255, 0, 0});
    CHECK(outline.at(7, 7) == rgb{255, 0, 0});
    CHECK(outline.at(4, 4) == rgb{0, 0, 0});
    CHECK(outline.at(1, 1) == rgb{0, 0, 0});

    rgb_image text(60, 20);
    app::draw_text(text, 2, 2, "0.25 tiles", {255, 255, 255}, 1);
    std::int64_t lit = 0, right = 0, bottom = 0;
    for (std::int64_t y = 0; y < text.height; ++y)
        for (std::int64_t x = 0; x < text.width; ++x)
            if (text.at(x, y) == rgb{255, 255, 255}) {
                ++lit;
                right = std::max(right, x + 1);
                bottom = std::max(bottom, y + 1);
            }
    CHECK(lit > 20);
    CHECK(right <= 2 + app::text_width("0.25 tiles"));
    CHECK(right >= 2 + app::text_width("0.25 tiles") - 1);
    CHECK(bottom <= 2 + app::text_height() + 2);
    CHECK(app::text_width("abc", 3) == 3 * app::text_width("abc"));
}

TEST_CASE("colour_map runs from blue to red and clamps") {
    CHECK(app::colour_map(0.0) == rgb{60, 120, 255});
    CHECK(app::colour_map(1.0) == rgb{255, 60, 40});
    CHECK(app::colour_map(-3.0) == app::colour_map(0.0));
    CHECK(app::colour_map(7.0) == app::colour_map(1.0));
    CHECK(app::colour_map(0.5) == rgb{110, 220, 70});
}

TEST_CASE("the overlay is the cropped image plus a legend, tile borders coloured by denoise") {
    const tile::layout layout = quadrant_layout();
    const rgb_image image = gradient(70, 66);  // larger than the layout's 64x64: cropped
    const rgb_image overlay = app::draw_tile_overlay(image, layout);
    CHECK(overlay.width >= 64);
    CHECK(overlay.height > 64 + 10);

    const app::denoise_colour_scale scale = app::colour_scale_of(layout);
    CHECK(scale.low == 0.2);
    CHECK(scale.high == 0.8);
    CHECK(scale.colour(0.8) == app::colour_map(1.0));
    CHECK(scale.colour(0.2) == app::colour_map(0.0));
    for (const tile::layout_tile& t : layout.tiles) {
        const rect& r = t.pixel_core;
        const rgb expected = scale.colour(t.strength);
        INFO("tile ", t.id);
        CHECK(overlay.at(r.x, r.y) == expected);
        CHECK(overlay.at(r.right() - 1, r.y) == expected);
        CHECK(overlay.at(r.x, r.bottom() - 1) == expected);
        CHECK(overlay.at(r.right() - 1, r.bottom() - 1) == expected);
        CHECK(overlay.at(r.x + r.w / 2, r.y) == expected);
        CHECK(overlay.at(r.x, r.y + r.h / 2) == expected);
        // The inside shows the photograph, dimmed and tinted with the tile's colour.
        const std::int64_t cx = r.x + r.w / 2, cy = r.y + r.h / 2;
        const double dimmed = std::lround(0.55 * image.at(cx, cy).r + 0.45 * 40.0);
        const double opacity = app::tint_opacity;
        CHECK(overlay.at(cx, cy) != expected);
        CHECK(overlay.at(cx, cy).r == std::uint8_t(std::lround((1 - opacity) * dimmed + opacity * expected.r)));
    }
}

TEST_CASE("a layout with a single denoise value draws its colour from the absolute value") {
    tile::layout layout;
    layout.width = 4;
    layout.height = 4;
    layout.latent_scale = 8;
    layout.tiles = {make_tile(0, {0, 0, 4, 4}, 0.5, 8)};
    const rgb_image overlay = app::draw_tile_overlay(gradient(32, 32), layout);
    CHECK(overlay.at(0, 0) == app::colour_map(0.5));
    CHECK(overlay.width > 32);  // the legend needs more room than a 32-pixel image
}

TEST_CASE("the overlay refuses a layout larger than the image") {
    const tile::layout layout = quadrant_layout();
    CHECK_THROWS_WITH_AS(app::draw_tile_overlay(gradient(63, 64), layout),
                         doctest::Contains("must fit in the image 63x64"), invalid_argument);
}

TEST_CASE("img2img pipeline: the same image and seed give bit-identical output across runs, batch sizes and threads") {
    const rgb_image image = app::load_rgb(data_file("corner_64.png"));
    for (const char* policy : {"strength", "mask", "preservation_blend"}) {
        CAPTURE(policy);
        app::img2img_settings settings = app::img2img_settings::leaf_tiles();  // 10 tiles, not 1
        settings.policy = policy;
        settings.sampler = std::string(policy) == "mask" ? "dpmpp-2m" : "heun";
        settings.steps = 6;
        settings.seed = 7;
        const app::img2img_result reference = app::run_img2img(image, settings);
        for (auto [batch, threads] : {std::pair{4, 1}, {1, 1}, {3, 2}, {16, 3}}) {
            CAPTURE(batch);
            CAPTURE(threads);
            settings.tile_batch = batch;
            settings.threads = threads;
            const app::img2img_result other = app::run_img2img(image, settings);
            CHECK(other.output.pixels == reference.output.pixels);
            CHECK(other.report.low_strength_error == reference.report.low_strength_error);
            CHECK(other.report.high_strength_change == reference.report.high_strength_change);
            CHECK(other.report.model_calls >= 1);
        }
    }
}

TEST_CASE("write_file writes the bytes and names the path and the reason when it cannot") {
    temporary_file file("write_file.txt");
    app::write_file(file.path.string(), std::string_view("a\0b", 3));
    std::ifstream in(file.path, std::ios::binary);
    const std::string back{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    CHECK(back == std::string("a\0b", 3));
    const std::string bad = data_file("no_such_directory/out.json");
    CHECK_THROWS_WITH_AS(app::write_file(bad, "{}"), ("cannot write '" + bad + "': No such file or directory").c_str(),
                         io_error);
}

namespace {

std::string read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Files the writer left beside `target` (its temporaries are named .<name>.quadflow-XXXXXX).
int leftover_temporaries(const std::filesystem::path& target) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(target.parent_path()))
        if (entry.path().filename().string().starts_with("." + target.filename().string() + ".quadflow-")) ++count;
    return count;
}

/// While alive: this process may write files of at most `bytes` (RLIMIT_FSIZE), as on a nearly full disk.
struct file_size_limit {
    ::rlimit previous{};
    explicit file_size_limit(::rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &previous);
        ::rlimit limit = previous;
        limit.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~file_size_limit() { ::setrlimit(RLIMIT_FSIZE, &previous); }
};

}  // namespace

TEST_CASE("a write that fails leaves the existing file as it was, with no temporary beside it") {
    temporary_file file("kept.png");
    app::save_png(file.path.string(), gradient(16, 16));
    const std::string good = read_bytes(file.path);
    {
        const file_size_limit limit(good.size() + 16);  // room for the old file, not for the new one
        CHECK_THROWS_WITH_AS(app::save_png(file.path.string(), gradient(512, 512)),
                             ("cannot write '" + file.path.string() + "': File too large").c_str(), io_error);
    }
    CHECK(read_bytes(file.path) == good);
    CHECK(leftover_temporaries(file.path) == 0);
    // The same bytes written with room to spare replace the file whole.
    app::save_png(file.path.string(), gradient(512, 512));
    CHECK(app::load_rgb(file.path.string()).width == 512);
    CHECK(leftover_temporaries(file.path) == 0);
}

TEST_CASE("a full device and a link to it: the write error is reported, never a silent truncated file") {
    CHECK_THROWS_WITH_AS(app::write_file("/dev/full", "{}"), "cannot write '/dev/full': No space left on device",
                         io_error);
    temporary_file link("full_link.png");
    std::filesystem::create_symlink("/dev/full", link.path);
    CHECK_THROWS_WITH_AS(app::save_png(link.path.string(), gradient(8, 8)),
                         ("cannot write '" + link.path.string() + "': No space left on device").c_str(), io_error);
    CHECK(std::filesystem::is_symlink(link.path));
}

TEST_CASE("a symbolic link to a file: the file is replaced, the link stays") {
    temporary_file target("link_target.json"), link("link.json");
    app::write_file(target.path.string(), "old");
    std::filesystem::create_symlink(target.path, link.path);
    app::write_file(link.path.string(), "new");
    CHECK(std::filesystem::is_symlink(link.path));
    CHECK(read_bytes(target.path) == "new");
    CHECK(leftover_temporaries(target.path) == 0);
}

TEST_CASE("a signal during a write removes the temporary file and still ends the process") {
    temporary_file temporary("signalled.tmp");
    app::write_file(temporary.path.string(), "partial");
    const ::pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const app::detail::temporary_guard guard(temporary.path.string());
        std::raise(SIGTERM);
        ::_exit(0);  // not reached: the handler re-raises with the default action
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
    CHECK_FALSE(std::filesystem::exists(temporary.path));
}

namespace {

/// A JPEG of `image` with an EXIF APP1 segment saying `orientation` (big-endian TIFF, one IFD0 entry).
std::vector<std::uint8_t> jpeg_with_orientation(const rgb_image& image, int orientation) {
    std::string jpeg;
    stbi_write_jpg_to_func(app::detail::append_bytes, &jpeg, static_cast<int>(image.width),
                           static_cast<int>(image.height), 3, image.pixels.data(), 95);
    const std::uint8_t exif[] = {'E',  'x',  'i', 'f', 0, 0, 'M', 'M', 0, 42,
                                 0,    0,    0,   8,  // TIFF header, IFD0 at 8
                                 0,    1,             // one entry
                                 0x01, 0x12, 0,   3,   0, 0, 0,   1,   0, static_cast<std::uint8_t>(orientation),
                                 0,    0,    0,   0,   0, 0};  // no next IFD
    const std::uint8_t app1[] = {0xFF, 0xE1, 0, static_cast<std::uint8_t>(sizeof exif + 2)};
    std::vector<std::uint8_t> out;
    out.reserve(jpeg.size() + sizeof app1 + sizeof exif);
    for (std::size_t i = 0; i < 2; ++i) out.push_back(static_cast<std::uint8_t>(jpeg[i]));  // SOI
    for (const std::uint8_t b : app1) out.push_back(b);
    for (const std::uint8_t b : exif) out.push_back(b);
    for (std::size_t i = 2; i < jpeg.size(); ++i) out.push_back(static_cast<std::uint8_t>(jpeg[i]));
    return out;
}

}  // namespace

TEST_CASE("a camera's JPEG is turned as its EXIF orientation says, as every viewer shows it") {
    rgb_image stored(32, 16, {220, 30, 30});  // left half red, right half blue, as stored
    for (std::int64_t y = 0; y < 16; ++y)
        for (std::int64_t x = 16; x < 32; ++x) stored.set(x, y, {30, 30, 220});
    const rgb_image portrait = app::load_rgb_from_memory(jpeg_with_orientation(stored, 6));  // rotate 90 clockwise
    REQUIRE(portrait.width == 16);
    REQUIRE(portrait.height == 32);
    CHECK(portrait.at(8, 4).r > 150);   // the stored left (red) is now the top
    CHECK(portrait.at(8, 28).b > 150);  // the stored right (blue) the bottom
    const rgb_image upside_down = app::load_rgb_from_memory(jpeg_with_orientation(stored, 3));
    CHECK(upside_down.width == 32);
    CHECK(upside_down.at(4, 8).b > 150);  // 180 degrees: blue on the left
    const rgb_image plain = app::load_rgb_from_memory(jpeg_with_orientation(stored, 1));
    CHECK(plain.at(4, 8).r > 150);
}

TEST_CASE("an RGBA PNG keeps its alpha through load and save; a 16-bit PNG is refused, not truncated") {
    rgb_image rgba(8, 8, {10, 20, 30});
    rgba.alpha.assign(64, 0);
    for (std::size_t i = 0; i < 64; ++i) rgba.alpha[i] = static_cast<std::uint8_t>(i * 4);
    temporary_file file("rgba.png");
    app::save_png(file.path.string(), rgba);
    const rgb_image back = app::load_rgb(file.path.string());
    CHECK(back.alpha == rgba.alpha);
    CHECK(back.pixels == rgba.pixels);
    CHECK_THROWS_WITH_AS(app::save_jpeg(file.path.string() + ".jpg", rgba), doctest::Contains("JPEG has no alpha"),
                         io_error);
    // A 16-bit RGB PNG header (IHDR bit depth 16), as a scanner or a raw developer writes.
    const std::uint8_t png16[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,   0,   0,   13, 'I', 'H', 'D',
                                  'R',  0,   0,   0,   4,    0,    0,    0,    4,   16,  2,   0,  0,   0,   0,
                                  0,    0,   0,   0,   0,    0,    0,    'I',  'E', 'N', 'D', 0,  0,   0,   0};
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(png16, std::int64_t{1} << 28, "deep.png"),
                         "cannot read image 'deep.png': 16 bits per channel; quadflow reads 8-bit images and would "
                         "lose the precision (convert it to 8 bits first)",
                         io_error);
}
