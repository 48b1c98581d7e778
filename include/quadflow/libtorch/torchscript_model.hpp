// quadflow LibTorch engine: a tile_model that runs a TorchScript flow model on each batch of tiles (needs LibTorch).
//
// The TorchScript module is loaded once. Its forward must be `forward(x: Tensor[N, C, H, W] float32, sigma: Tensor[N]
// float32) -> Tensor[N, C, H, W]` and return the flow velocity v = noise - x0 in the sigma convention
// (x = (1 - sigma) x0 + sigma noise), as models/train_flow_unet.py exports it. Each batch is handed to the module
// with torch::from_blob over the field's input arena (no copy in) and the result is copied once into the field's
// output; gradients are off (c10::InferenceMode). Link the target quadflow::libtorch (CMake finds Torch).
#pragma once

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::libtorch {

struct torchscript_options {
    /// Threads of LibTorch's intra-op pool (at::set_num_threads, process-wide); 0 leaves it as it is.
    int threads = 0;
};

/// What a torchscript_model did, for reports.
struct torchscript_stats {
    std::int64_t calls = 0;     ///< forward calls
    std::int64_t elements = 0;  ///< input elements sent (N * C * H * W summed over calls)
};

/// A tile_model over a TorchScript flow-velocity model (prediction::kind::flow_velocity).
class torchscript_model {
public:
    /// Loads the module at `path`; throws io_error naming the path when LibTorch cannot load it.
    explicit torchscript_model(const std::string& path, torchscript_options options = {}) : path_(path) {
        if (options.threads < 0)
            throw invalid_argument("threads", std::to_string(options.threads), "must be >= 0 (0 = leave as is)");
        if (options.threads > 0) at::set_num_threads(options.threads);
        try {
            module_ = torch::jit::load(path, torch::kCPU);
        } catch (const c10::Error& e) {
            throw io_error("model = " + path +
                           ": LibTorch cannot load it as TorchScript: " + first_line(e.what_without_backtrace()));
        }
        module_.eval();
    }

    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }

    /// Predicts the flow velocity of every tile of the batch into `out` (host memory, the shape of request.x).
    void operator()(const model::batch_request& request, mutable_view out) {
        model::check_request(request, out);
        predict(request.x, request.sigma, out);
    }

    /// Predicts the flow velocity of `x` (contiguous host NCHW, each image at noise level sigma) into `out`.
    void predict(const_view x, double sigma, mutable_view out) {
        require_same_shape(out.shape(), x.shape(), "model output", "model input");
        require_contiguous_host(x, "x");
        require_contiguous_host(out, "output");
        const shape4 s = x.shape();
        c10::InferenceMode no_autograd;
        // from_blob does not take ownership and never writes through an input the module does not modify in place.
        const torch::Tensor input = torch::from_blob(const_cast<float*>(x.data()), {s.n, s.c, s.h, s.w},
                                                     torch::TensorOptions().dtype(torch::kFloat32));
        const torch::Tensor sigmas = torch::full({s.n}, static_cast<float>(sigma), torch::kFloat32);
        c10::IValue result;
        auto failed = [&](const std::string& reason) {
            return model_error("model " + path_ + " failed on a batch of shape " + to_string(s) + " at sigma " +
                               quadflow::detail::to_text(sigma) + ": " + reason + "; " + contract);
        };
        try {
            result = module_.forward({input, sigmas});
        } catch (const c10::Error& e) {  // the reason first, then LibTorch's C++ backtrace
            throw failed(first_line(e.what_without_backtrace()));
        } catch (const std::exception& e) {  // the interpreter's JITException: its traceback, then the reason
            throw failed(last_line(e.what()));
        }
        if (!result.isTensor()) throw failed("forward returned a " + result.tagKind() + ", not a Tensor");
        const torch::Tensor v = result.toTensor();
        if (v.dim() != 4 || v.size(0) != s.n || v.size(1) != s.c || v.size(2) != s.h || v.size(3) != s.w ||
            v.scalar_type() != torch::kFloat32)
            throw model_error("model " + path_ + " returned a tensor of shape " + shape_text(v) + " and type " +
                              std::string(c10::toString(v.scalar_type())) + " for an input of shape " + to_string(s) +
                              "; it must return float32 of the input's shape");
        const torch::Tensor contiguous = v.contiguous();
        std::memcpy(out.data(), contiguous.data_ptr<float>(), static_cast<std::size_t>(s.numel()) * sizeof(float));
        ++stats_.calls;
        stats_.elements += s.numel();
    }

    const torchscript_stats& stats() const { return stats_; }
    const std::string& path() const { return path_; }

private:
    static constexpr const char* contract =
        "a flow model's TorchScript must be forward(Tensor x, Tensor sigma) -> Tensor, x float32 [N, C, H, W], "
        "sigma float32 [N], returning float32 of x's shape";
    static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }
    /// The last non-empty line: where the TorchScript interpreter puts the error itself, after its traceback.
    static std::string last_line(std::string text) {
        while (!text.empty() && (text.back() == '\n' || text.back() == '"')) text.pop_back();
        const std::size_t from = text.rfind('\n');
        return from == std::string::npos ? text : text.substr(from + 1);
    }
    static std::string shape_text(const torch::Tensor& t) {
        std::string text = "[";
        for (std::int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
        return text + "]";
    }

    std::string path_;
    torch::jit::Module module_;
    torchscript_stats stats_;
};
static_assert(model::tile_model<torchscript_model>);

}  // namespace quadflow::libtorch
