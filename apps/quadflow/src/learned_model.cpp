// The learned model's only translation unit with LibTorch (QUADFLOW_HAS_LIBTORCH), or its refusal without it.
#include "quadflow_app/learned_model.hpp"

#include <filesystem>

#include "quadflow/core/error.hpp"

#if QUADFLOW_HAS_LIBTORCH
#include "quadflow/libtorch/torchscript_model.hpp"
#endif

namespace quadflow::app {

#if QUADFLOW_HAS_LIBTORCH
struct learned_model::engine {
    libtorch::torchscript_model model;
};

bool learned_model::available() { return true; }

learned_model::learned_model(const std::string& path, const std::string& flag, int threads) {
    if (std::filesystem::is_directory(path))
        throw invalid_argument(flag, path, "is a directory, not a TorchScript file (e.g. models/flow_unet.pt)");
    if (!std::filesystem::is_regular_file(path))
        throw invalid_argument(flag, path, "no such file (a TorchScript flow model, e.g. models/flow_unet.pt)");
    try {
        engine_ = std::make_unique<engine>(engine{libtorch::torchscript_model(path, {threads})});
    } catch (const io_error& e) {  // "model = <path>: ...", said with the flag the user typed
        const std::string message = e.what(), prefix = "model = " + path + ": ";
        throw invalid_argument(flag, path, message.starts_with(prefix) ? message.substr(prefix.size()) : message);
    }
}

void learned_model::operator()(const model::batch_request& request, mutable_view out) { engine_->model(request, out); }
#else
struct learned_model::engine {};

bool learned_model::available() { return false; }

learned_model::learned_model(const std::string& path, const std::string& flag, int) {
    throw invalid_argument(flag, path,
                           "this quadflow was built without LibTorch (apt-get install libtorch-dev, then rebuild)");
}

void learned_model::operator()(const model::batch_request&, mutable_view) {}
#endif

learned_model::learned_model(learned_model&&) noexcept = default;
learned_model& learned_model::operator=(learned_model&&) noexcept = default;
learned_model::~learned_model() = default;

}  // namespace quadflow::app
