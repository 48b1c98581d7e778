// The LibTorch engine on the committed learned flow model (models/flow_unet.pt): PyTorch's own numbers, exact
// preservation, real seams that overlap removes, errors, and the CLI's --model / --untiled.
// LibTorch first: it brings glog's CHECK macros, which doctest's must replace.
#include "quadflow/libtorch/torchscript_model.hpp"
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LE
#undef CHECK_LT
#undef CHECK_GE
#undef CHECK_GT

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "quadflow/field/canvas_field.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow_app/cli.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"

using namespace quadflow;
using json = nlohmann::json;

namespace {

const std::string source_dir = QUADFLOW_SOURCE_DIR;
const std::string model_path = source_dir + "/models/flow_unet.pt";

libtorch::torchscript_model& shared_model() {
    static libtorch::torchscript_model model(model_path, {2});
    return model;
}

/// A 64 x 64 crop of the demo photo (never trained on) as a 1 x 3 x 64 x 64 latent in [-1, 1].
host_tensor photo_crop(std::int64_t x0 = 224, std::int64_t y0 = 160, std::int64_t side = 64) {
    const app::rgb_image image = app::load_rgb(source_dir + "/apps/quadflow/data/astronaut.png");
    host_tensor crop(shape4{1, 3, side, side});
    for (std::int64_t y = 0; y < side; ++y)
        for (std::int64_t x = 0; x < side; ++x) {
            const app::rgb p = image.at(x0 + x, y0 + y);
            crop(0, 0, y, x) = p.r / 127.5f - 1.0f;
            crop(0, 1, y, x) = p.g / 127.5f - 1.0f;
            crop(0, 2, y, x) = p.b / 127.5f - 1.0f;
        }
    return crop;
}

/// img2img of `original` at strength `strength` over the last part of a 6-step FLUX schedule with `field`.
template <class Field>
host_tensor run(Field& field, const host_tensor& original, double strength) {
    const std::vector<double> sigmas =
        schedule::img2img_sigmas(schedule::flux(6, 64, 64), strength, schedule::strength_rule::diffusers);
    const host_tensor noise = noise::torch_randn(7, original.shape());
    host_tensor x(original.shape());
    sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view());
    sampler::euler euler;
    sampler::sample(euler, field, x.view(), sigmas);
    return x;
}

}  // namespace

TEST_CASE("the LibTorch engine gives PyTorch's own output for the committed model (models/golden.json)") {
    std::ifstream file(source_dir + "/models/golden.json");
    REQUIRE(file.good());
    const json golden = json::parse(file);
    const auto n = golden["shape"][0].get<std::int64_t>(), c = golden["shape"][1].get<std::int64_t>(),
               h = golden["shape"][2].get<std::int64_t>(), w = golden["shape"][3].get<std::int64_t>();
    host_tensor x(shape4{n, c, h, w}), v(x.shape());
    const std::vector<float> input = golden["input"].get<std::vector<float>>();
    REQUIRE(static_cast<std::int64_t>(input.size()) == x.numel());
    std::copy(input.begin(), input.end(), x.data());
    shared_model().predict(x.cview(), golden["sigma"].get<double>(), v.view());
    const std::vector<float> expected = golden["output"].get<std::vector<float>>();
    REQUIRE(static_cast<std::int64_t>(expected.size()) == v.numel());
    float worst = 0.0f;
    for (std::int64_t i = 0; i < v.numel(); ++i)
        worst = std::max(worst, std::abs(v.data()[i] - expected[static_cast<std::size_t>(i)]));
    CHECK(worst <= 1e-5f);
    CHECK(shared_model().prediction_kind() == prediction::kind::flow_velocity);
}

TEST_CASE("strength 0 regions stay within 1e-5 of the original with the learned model") {
    const host_tensor original = photo_crop();
    tile::layout layout = tile::build_grid(64, 64, {.tile = 32, .overlap_latent = 4, .latent_scale = 1});
    for (tile::layout_tile& t : layout.tiles) t.strength = t.id == 0 ? 0.0 : 0.6;
    field::field_options options;
    options.sigmas = schedule::img2img_sigmas(schedule::flux(6, 64, 64), 1.0, schedule::strength_rule::diffusers);
    field::tiled_field field(shared_model(), layout, original.shape(), policy::strength{}, options, original.cview());
    const host_tensor result = run(field, original, 1.0);
    // Where only tile 0 reaches (its neighbours' padded rectangles left out), and where only the others do.
    const auto kept = metrics::tile_region_error(result.cview(), original.cview(), layout,
                                                 [](const tile::layout_tile& t) { return t.strength == 0.0; });
    const auto changed = metrics::tile_region_error(result.cview(), original.cview(), layout,
                                                    [](const tile::layout_tile& t) { return t.strength > 0.0; });
    CHECK(kept.elements > 0);
    CHECK(kept.max <= 1e-5);
    CHECK(changed.max > 0.05);  // the model did act on the other tiles
}

TEST_CASE("the learned model sees context: overlap 0 makes seams that overlap and ramps remove") {
    const host_tensor original = photo_crop();
    const double strength = 0.6;
    const std::vector<double> sigmas =
        schedule::img2img_sigmas(schedule::flux(6, 64, 64), strength, schedule::strength_rule::diffusers);
    field::canvas_field whole(shared_model());
    const host_tensor untiled = run(whole, original, strength);
    const auto tiled = [&](std::int64_t overlap, blend::weight_kind weights) {
        const tile::layout layout =
            tile::build_grid(64, 64, {.tile = 32, .overlap_latent = overlap, .latent_scale = 1});
        field::field_options options;
        options.sigmas = sigmas;
        options.weights = blend::weight_params{weights, 0.01f};
        field::tiled_field field(shared_model(), layout, original.shape(), policy::scale{}, options);
        return metrics::psnr(run(field, original, strength).cview(), untiled.cview());
    };
    const double hard = tiled(0, blend::weight_kind::uniform);
    const double ramps = tiled(8, blend::weight_kind::smootherstep);
    MESSAGE("PSNR to untiled: overlap 0 " << hard << " dB, overlap 8 smootherstep " << ramps << " dB");
    CHECK(hard < 60.0);         // a per-pixel model would give identical images (infinite PSNR)
    CHECK(ramps > hard + 1.0);  // overlap with ramps brings the tiling closer to the untiled run
}

TEST_CASE("LibTorch engine errors name the file, the shape and the reason") {
    CHECK_THROWS_WITH_AS(libtorch::torchscript_model(source_dir + "/tests/data/not_an_image.png"),
                         doctest::Contains("not_an_image.png: LibTorch cannot load it as TorchScript"), io_error);
    CHECK_THROWS_WITH_AS(libtorch::torchscript_model(model_path, {-1}), "threads = -1: must be >= 0 (0 = leave as is)",
                         invalid_argument);
    host_tensor four_channels(shape4{1, 4, 16, 16}, 0.1f), out(four_channels.shape());
    CHECK_THROWS_WITH_AS(shared_model().predict(four_channels.cview(), 0.5, out.view()),
                         doctest::Contains("failed on a batch of shape [1, 4, 16, 16] at sigma 0.5: "), model_error);
}

TEST_CASE("a TorchScript that breaks the contract: LibTorch's reason and the contract, never a stack frame") {
    const std::filesystem::path dir = std::filesystem::temp_directory_path();
    const std::string tuple_model = (dir / ("quadflow_tuple_" + std::to_string(::getpid()) + ".pt")).string();
    const std::string one_argument = (dir / ("quadflow_one_arg_" + std::to_string(::getpid()) + ".pt")).string();
    {
        torch::jit::Module m("ReturnsTuple");
        m.define("def forward(self, x, sigma):\n    return (x, x)\n");
        m.save(tuple_model);
        torch::jit::Module one("OneArgument");
        one.define("def forward(self, x):\n    return x\n");
        one.save(one_argument);
    }
    host_tensor x(shape4{1, 3, 8, 8}, 0.1f), out(x.shape());
    for (const std::string& path : {tuple_model, one_argument}) {
        CAPTURE(path);
        libtorch::torchscript_model model(path);
        std::string message;
        try {
            model.predict(x.cview(), 0.5, out.view());
        } catch (const model_error& e) {
            message = e.what();
        }
        CHECK(message.find("frame #") == std::string::npos);
        CHECK(message.find("must be forward(Tensor x, Tensor sigma) -> Tensor") != std::string::npos);
        CHECK(message.find(path == tuple_model ? "forward returned a Tuple, not a Tensor" : "argument") !=
              std::string::npos);
        INFO(message);
    }
    std::filesystem::remove(tuple_model);
    std::filesystem::remove(one_argument);
}

TEST_CASE("--model errors name the flag: a directory, a file that is not TorchScript") {
    app::img2img_settings s;
    s.steps = 1;
    s.model_path = source_dir + "/models";
    const app::rgb_image image(32, 32, {100, 100, 100});
    CHECK_THROWS_WITH_AS(
        app::run_img2img(image, s),
        ("--model = " + source_dir + "/models: is a directory, not a TorchScript file (e.g. models/flow_unet.pt)")
            .c_str(),
        invalid_argument);
    s.model_path = source_dir + "/tests/data/not_an_image.png";
    CHECK_THROWS_WITH_AS(
        app::run_img2img(image, s),
        doctest::Contains(("--model = " + *s.model_path + ": LibTorch cannot load it as TorchScript").c_str()),
        invalid_argument);
}

TEST_CASE("quadflow img2img --model runs the learned model, --untiled runs it on the whole canvas") {
    const std::string image = source_dir + "/tests/data/corner_64.png";
    const std::filesystem::path out = std::filesystem::temp_directory_path() / "quadflow_test_libtorch";
    std::filesystem::create_directories(out);
    for (const bool untiled : {false, true}) {
        CAPTURE(untiled);
        std::vector<std::string> args{
            "quadflow", "img2img",  "--image",     image, "--out",          (out / "x.png").string(),
            "--model",  model_path, "--steps",     "3",   "--strength-map", "0.5",
            "--policy", "mask",     "--leaf-tiles"};
        if (untiled) args.emplace_back("--untiled");
        std::vector<const char*> argv;
        for (const std::string& a : args) argv.push_back(a.c_str());
        std::ostringstream stdout_text, stderr_text;
        const int code = cli::run_cli(static_cast<int>(argv.size()), argv.data(), stdout_text, stderr_text);
        INFO("stderr: " << stderr_text.str());
        REQUIRE(code == 0);
        const json report = json::parse(stdout_text.str());
        if (untiled)
            CHECK(report["tiles"].get<std::int64_t>() == 1);
        else
            CHECK(report["tiles"].get<std::int64_t>() > 1);
        CHECK(report["high_strength_change"].get<double>() > 0.0);
    }
}
