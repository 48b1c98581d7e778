// quadflow app learned model: the TorchScript flow model behind a LibTorch-free interface (LibTorch stays in one TU).
#pragma once

#include <memory>
#include <string>

#include "quadflow/core/tensor.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::app {

/// The flow-velocity model of a TorchScript file (models/flow_unet.pt) as a tile_model. Built with LibTorch it runs
/// quadflow::libtorch::torchscript_model; without it, constructing one throws invalid_argument naming `flag`.
class learned_model {
public:
    /// Whether this build has LibTorch (CMake found Torch).
    static bool available();

    /// Loads `path`; `flag` names the option that gave it, for errors; `threads` = LibTorch threads (0: as is).
    learned_model(const std::string& path, const std::string& flag = "--model", int threads = 0);
    learned_model(learned_model&&) noexcept;
    learned_model& operator=(learned_model&&) noexcept;
    ~learned_model();

    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request& request, mutable_view out);

private:
    struct engine;
    std::unique_ptr<engine> engine_;
};
static_assert(model::tile_model<learned_model>);

}  // namespace quadflow::app
