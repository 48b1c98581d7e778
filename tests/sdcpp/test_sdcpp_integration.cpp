// quadflow inside the real stable-diffusion.cpp: the engine built from its published source with
// integrations/stable-diffusion.cpp/tiled-diffusion.patch (bash integrations/stable-diffusion.cpp/build.sh), run as
// sd-cli on the tiny FLUX.2 klein model that the script generates. Latents come back through sd-cli's --latent-out
// and --init-latent-out (.npy).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "quadflow/policy/strength_map.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/image_io.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path engine_dir = QUADFLOW_SDCPP_DIR;
const fs::path photo = fs::path(QUADFLOW_SOURCE_DIR) / "bench/learned/data/chelsea_256.png";
constexpr int image_size = 256, latent_scale = 16, latent_size = image_size / latent_scale, channels = 128;

/// The samplers tiled diffusion accepts (the deterministic flow-path ones; res_* at their default eta 0).
const char* const accepted_samplers[] = {"euler", "heun",    "dpm2",          "dpm++2m", "dpm++2mv2",
                                         "ipndm", "ipndm_v", "res_multistep", "res_2s"};

struct run_result {
    int status = 0;
    std::string log;
};

/// This process's folder for images, logs and latents, removed when the process ends.
fs::path scratch() {
    struct folder {
        fs::path path = fs::temp_directory_path() / ("quadflow_sdcpp_" + std::to_string(::getpid()));
        folder() { fs::create_directories(path); }
        ~folder() {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    };
    static const folder dir;
    return dir.path;
}

/// sd-cli img2img of the photo with the tiny model, then `extra`; its exit status and its log.
run_result sd_cli(const std::string& name, const std::string& extra) {
    const fs::path dir = scratch(), tiny = engine_dir / "tiny";
    const fs::path log = dir / (name + ".log");
    std::ostringstream command;
    command << (engine_dir / "bin/sd-cli") << " --diffusion-model " << (tiny / "flux2_tiny_dit.safetensors")
            << " --llm " << (tiny / "flux2_tiny_qwen3.safetensors") << " --taesd "
            << (tiny / "flux2_tiny_taesd.safetensors") << " -p 'a cat on a blue sofa' -i " << photo
            << " -W 256 -H 256 --cfg-scale 1 --seed 7 --steps 6 --strength 0.8 -t 2 -v -o " << (dir / (name + ".png"))
            << " " << extra << " > " << log << " 2>&1";
    const int status = std::system(command.str().c_str());
    std::ifstream in(log);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, std::string(std::istreambuf_iterator<char>(in), {})};
}

/// A float32 .npy file of shape (channels, height, width), as sd-cli's --latent-out writes it.
std::vector<float> read_latent(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in, "no latent at " << path);
    char magic[8];
    std::uint16_t header_size = 0;
    in.read(magic, 8);
    in.read(reinterpret_cast<char*>(&header_size), 2);
    std::string header(header_size, '\0');
    in.read(header.data(), header_size);
    const std::string shape = "'shape': (" + std::to_string(channels) + ", " + std::to_string(latent_size) + ", " +
                              std::to_string(latent_size) + ")";
    REQUIRE_MESSAGE(header.find(shape) != std::string::npos, header);
    REQUIRE(header.find("'descr': '<f4'") != std::string::npos);
    std::vector<float> values(static_cast<std::size_t>(channels) * latent_size * latent_size);
    in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
    REQUIRE(in.gcount() == static_cast<std::streamsize>(values.size() * sizeof(float)));
    return values;
}

struct latents {
    std::vector<float> init, final;
};

/// One img2img run that must succeed, with both latents.
latents img2img(const std::string& name, const std::string& extra) {
    const fs::path dir = scratch();
    const run_result r = sd_cli(name, extra + " --init-latent-out " + (dir / (name + "_init.npy")).string() +
                                          " --latent-out " + (dir / (name + "_final.npy")).string());
    INFO(r.log);
    REQUIRE(r.status == 0);
    return {read_latent(dir / (name + "_init.npy")), read_latent(dir / (name + "_final.npy"))};
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b, const std::vector<char>& where = {}) {
    float worst = 0;
    const std::size_t plane = static_cast<std::size_t>(latent_size) * latent_size;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (where.empty() || where[k % plane]) worst = std::max(worst, std::abs(a[k] - b[k]));
    return worst;
}

float mean_difference(const std::vector<float>& a, const std::vector<float>& b, const std::vector<char>& where) {
    double sum = 0;
    std::size_t count = 0;
    const std::size_t plane = static_cast<std::size_t>(latent_size) * latent_size;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (where[k % plane]) sum += std::abs(a[k] - b[k]), ++count;
    return count == 0 ? 0.0f : static_cast<float>(sum / static_cast<double>(count));
}

/// The latent pixels the engine's quadtree (min 0, max 1) gives strength 0, computed here from the photo with
/// quadflow as the patch configures it: latent scale 16, align 16.
std::vector<char> kept_pixels(bool kept) {
    const quadflow::app::rgb_image image = quadflow::app::load_rgb(photo.string());
    quadflow::tile::quadtree_options tree;
    tree.latent_scale = latent_scale;
    tree.align = latent_scale;
    tree.min_strength = 0.0;
    tree.max_strength = 1.0;
    const quadflow::tile::layout layout = quadflow::tile::build_quadtree(
        quadflow::tile::packed_rgb_view(image.pixels.data(), image.width, image.height), tree);
    const quadflow::host_tensor map = quadflow::policy::paint_strength_map(layout);
    std::vector<char> where(static_cast<std::size_t>(latent_size) * latent_size);
    for (std::size_t k = 0; k < where.size(); ++k) where[k] = (map.data()[k] == 0.0f) == kept;
    return where;
}

/// The FLUX.2 shift the engine logs (-v): "Flux2FlowDenoiser: set shift to X".
std::string logged_shift(const std::string& log) {
    const std::string key = "set shift to ";
    const std::size_t at = log.find(key);
    REQUIRE_MESSAGE(at != std::string::npos, log);
    return log.substr(at + key.size(), log.find('\n', at) - at - key.size());
}

constexpr const char* one_tile = "--diffusion-tiler grid --diffusion-tile-size 256 --diffusion-tile-overlap 0";
constexpr const char* quadtree_tiles =
    "--diffusion-tiler quadtree --diffusion-tile-size 128 --diffusion-min-tile-size 64 --diffusion-tile-overlap 32";

}  // namespace

TEST_CASE("sdcpp engine: one tile covering the canvas equals the untiled engine, every deterministic sampler") {
    for (const char* sampler : accepted_samplers) {
        const std::string sampler_name = sampler;
        CAPTURE(sampler_name);
        const std::string method = std::string("--sampling-method ") + sampler;
        const latents untiled = img2img(std::string("untiled_") + sampler, method);
        const latents tiled = img2img(std::string("one_tile_") + sampler, method + " " + one_tile);
        CHECK(max_difference(untiled.init, tiled.init) == 0.0f);
        CHECK(max_difference(untiled.final, tiled.final) <= 1e-6f);
        CHECK(max_difference(untiled.final, untiled.init) > 0.05f);  // the run changed the image
    }
}

TEST_CASE("sdcpp engine: every strength 0 calls no model and returns the init latent") {
    for (const char* sampler : {"euler", "heun", "dpm++2m"}) {
        const std::string sampler_name = sampler;
        CAPTURE(sampler_name);
        const fs::path dir = scratch();
        const std::string name = std::string("strength0_") + sampler;
        const run_result r =
            sd_cli(name, std::string("--sampling-method ") + sampler + " " + quadtree_tiles +
                             " --diffusion-max-strength 0 --init-latent-out " + (dir / (name + "_init.npy")).string() +
                             " --latent-out " + (dir / (name + "_final.npy")).string());
        INFO(r.log);
        REQUIRE(r.status == 0);
        CHECK(r.log.find("tiled diffusion: 0 model calls, 0 tiles;") != std::string::npos);
        CHECK(max_difference(read_latent(dir / (name + "_init.npy")), read_latent(dir / (name + "_final.npy"))) <=
              1e-6f);
    }
}

TEST_CASE("sdcpp engine: a quadtree-tiled img2img keeps its strength-0 regions and changes the others") {
    const std::vector<char> kept = kept_pixels(true), changed = kept_pixels(false);
    REQUIRE(std::count(kept.begin(), kept.end(), 1) > 0);
    REQUIRE(std::count(changed.begin(), changed.end(), 1) > 0);
    for (const char* sampler : accepted_samplers) {
        const std::string sampler_name = sampler;
        CAPTURE(sampler_name);
        const latents run = img2img(std::string("quadtree_") + sampler,
                                    std::string("--sampling-method ") + sampler + " " + quadtree_tiles);
        // Relative to the latent's scale: the engine's own multistep arithmetic rounds in float (ipndm's four-term
        // combination moves a kept pixel by 1.5e-6 where |x| is about 5), with or without tiles.
        float scale = 1.0f;
        for (float v : run.init) scale = std::max(scale, std::abs(v));
        CHECK(max_difference(run.final, run.init, kept) <= 1e-6f * scale);
        CHECK(mean_difference(run.final, run.init, changed) > 0.05f);
    }
}

TEST_CASE("sdcpp engine: what cannot be tiled is refused, naming the option") {
    struct refusal {
        const char* flags;
        const char* message;
    };
    const refusal refusals[] = {
        {"--diffusion-tiler quadtree --diffusion-tile-size 0", "tile_size = 0 px must be a multiple of 16 px"},
        {"--diffusion-tiler quadtree --diffusion-tile-size 128 --diffusion-min-tile-size 256",
         "min_tile_size = 256 px must be <= tile_size = 128 px"},
        {"--diffusion-tiler quadtree --diffusion-tile-size 120",
         "tile_size = 120 px must be a multiple of 16 px (the latent's 16 px cells times the model's patch of 1)"},
        {"--diffusion-tiler quadtree --diffusion-tile-overlap 8", "overlap = 8 px must be a multiple of 16 px"},
        {"--diffusion-tiler quadtree --diffusion-max-strength 1.5", "max_strength = 1.5 must satisfy"},
        {"--diffusion-tiler hexagons", "--diffusion-tiler 'hexagons' must be one of none, quadtree, grid"},
        {"--diffusion-tiler quadtree --diffusion-policy sharpest", "policy"},
        {"--diffusion-tiler quadtree --sampling-method lcm", "sampling method lcm steps a variance-preserving path"},
        {"--diffusion-tiler quadtree --sampling-method ddim_trailing", "sampling method ddim_trailing"},
        {"--diffusion-tiler quadtree --sampling-method euler_a", "with eta = 1 adds fresh noise"},
        {"--diffusion-tiler quadtree --cache-mode easycache", "--cache-mode (mode 1) caches the whole latent"},
        {"--diffusion-tiler quadtree --hires", "--hires runs a second, larger pass that is not tiled"},
    };
    for (const refusal& r : refusals) {
        const std::string flags = r.flags;
        CAPTURE(flags);
        const run_result result = sd_cli("refused", r.flags);
        INFO(result.log);
        CHECK(result.status != 0);
        CHECK(result.log.find(r.message) != std::string::npos);
    }
}

TEST_CASE("sdcpp engine: an inpainting mask is cropped per tile: one tile equals the untiled engine, black is kept") {
    // Left half black (kept), right half white: the engine's denoise mask, blended per tile by the patch.
    quadflow::app::rgb_image mask;
    mask.width = mask.height = image_size;
    mask.pixels.assign(static_cast<std::size_t>(image_size) * image_size * 3, 0);
    for (int y = 0; y < image_size; ++y)
        for (int x = image_size / 2; x < image_size; ++x)
            for (int c = 0; c < 3; ++c) mask.pixels[(static_cast<std::size_t>(y) * image_size + x) * 3 + c] = 255;
    const fs::path mask_path = scratch() / "mask.png";
    quadflow::app::save_png(mask_path.string(), mask);
    const std::string masked = "--mask " + mask_path.string() + " --sampling-method dpm++2m";
    const latents untiled = img2img("masked_untiled", masked);
    const latents tiled = img2img("masked_one_tile", masked + " " + one_tile);
    const latents quadtree = img2img("masked_quadtree", masked + " " + quadtree_tiles);
    CHECK(max_difference(untiled.final, tiled.final) == 0.0f);
    std::vector<char> left(static_cast<std::size_t>(latent_size) * latent_size), right(left.size());
    for (std::size_t k = 0; k < left.size(); ++k) {
        left[k] = static_cast<int>(k % latent_size) < latent_size / 2;
        right[k] = !left[k];
    }
    for (const latents* run : {&untiled, &tiled, &quadtree}) {
        CHECK(max_difference(run->final, run->init, left) <= 1e-6f);  // the sampler's own float rounding
        CHECK(mean_difference(run->final, run->init, right) > 0.05f);
    }
}

TEST_CASE("sdcpp engine: a strength map keeps its black pixels and regenerates its white ones") {
    quadflow::app::rgb_image map;
    map.width = map.height = image_size;
    map.pixels.assign(static_cast<std::size_t>(image_size) * image_size * 3, 255);
    for (int y = 0; y < image_size / 2; ++y)  // the top half black
        for (int x = 0; x < image_size; ++x)
            for (int c = 0; c < 3; ++c) map.pixels[(static_cast<std::size_t>(y) * image_size + x) * 3 + c] = 0;
    const fs::path map_path = scratch() / "strength.png";
    quadflow::app::save_png(map_path.string(), map);
    const latents run = img2img("strength_map",
                                "--diffusion-tiler grid --diffusion-tile-size 128 "
                                "--diffusion-tile-overlap 32 --diffusion-strength-map " +
                                    map_path.string());
    std::vector<char> top(static_cast<std::size_t>(latent_size) * latent_size), bottom(top.size());
    for (std::size_t k = 0; k < top.size(); ++k) {
        top[k] = static_cast<int>(k / latent_size) < latent_size / 2;
        bottom[k] = !top[k];
    }
    CHECK(max_difference(run.final, run.init, top) <= 1e-6f);
    CHECK(mean_difference(run.final, run.init, bottom) > 0.05f);
}

TEST_CASE("sdcpp engine: FLUX.2's shift comes from the model tile, or from the canvas when asked") {
    const run_result untiled = sd_cli("shift_untiled", "");
    const run_result canvas_tile = sd_cli("shift_canvas_tile", one_tile);
    const run_result small_tiles = sd_cli("shift_tiles", quadtree_tiles);
    const run_result from_canvas =
        sd_cli("shift_from_canvas", std::string(quadtree_tiles) + " --diffusion-shift-from-canvas");
    for (const run_result* r : {&untiled, &canvas_tile, &small_tiles, &from_canvas}) REQUIRE(r->status == 0);
    CHECK(logged_shift(canvas_tile.log) == logged_shift(untiled.log));  // a tile of the canvas's size
    CHECK(logged_shift(small_tiles.log) != logged_shift(untiled.log));  // 128 px tiles: 64 tokens, not 256
    CHECK(logged_shift(from_canvas.log) == logged_shift(untiled.log));
}
