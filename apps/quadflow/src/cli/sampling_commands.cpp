// quadflow CLI: the `schedule`, `noise` and `toy` subcommands.
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/flag_checks.hpp"
#include "cli/json.hpp"
#include "cli/schedule_options.hpp"
#include "cli/shared_flags.hpp"
#include "quadflow/field/canvas_field.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/sampler/any_sampler.hpp"
#include "quadflow_app/cli.hpp"

namespace quadflow::cli {
namespace {

struct noise_options {
    std::uint64_t seed = 0;
    std::vector<std::int64_t> shape;
};

struct toy_options {
    schedule_options schedule;
    std::string sampler = "euler";
    double data_std = 0.5;
    double x1 = 1.0;
};

/// Most values `noise` prints (12 MB of JSON).
constexpr std::int64_t max_printed_values = std::int64_t{1} << 20;

void run_noise(const noise_options& o, std::ostream& out) {
    require(o.shape.size() == 4, "--shape", o.shape.size(), "needs four extents N,C,H,W");
    const shape4 shape{o.shape[0], o.shape[1], o.shape[2], o.shape[3]};
    require(shape.n >= 0 && shape.c >= 0 && shape.h >= 0 && shape.w >= 0, "--shape", to_string(shape),
            "every extent must be >= 0");
    require(element_count_fits(shape) && shape.numel() <= max_printed_values, "--shape", to_string(shape),
            "must have at most " + std::to_string(max_printed_values) + " values (N x C x H x W)");
    const host_tensor values = noise::torch_randn(o.seed, shape);
    out << to_text(json{{"values", number_array(values.span())}}) << "\n";
}

void run_toy(const toy_options& o, std::ostream& out) {
    require_at_least("--data-std", o.data_std, 0.0);
    const std::vector<double> sigmas = o.schedule.build();
    sampler::any_sampler method = sampler::parse_sampler(o.sampler, "--sampler");
    host_tensor target(shape4{1, 1, 1, 1}, 0.0f);
    model::gaussian_model toy(target.cview(), o.data_std);
    field::canvas_field field(toy);
    host_tensor x(shape4{1, 1, 1, 1}, static_cast<float>(o.x1));
    sampler::sample(method, field, x.view(), sigmas);
    out << to_text(json{{"x", as_printed(x(0, 0, 0, 0))}}) << "\n";
}

}  // namespace

void add_sampling_commands(CLI::App& app, std::ostream& out) {
    auto schedule = std::make_shared<schedule_options>();
    CLI::App* schedule_cmd = app.add_subcommand("schedule", "Print a sigma schedule as {\"sigmas\": [...]}");
    add_schedule_flags(*schedule_cmd, *schedule);
    schedule_cmd->callback([schedule, &out] {
        const std::vector<double> sigmas = schedule->build();
        out << to_text(json{{"sigmas", number_array(std::span<const double>(sigmas))}}) << "\n";
    });

    auto noise = std::make_shared<noise_options>();
    CLI::App* noise_cmd =
        app.add_subcommand("noise", "Print torch.manual_seed(S); torch.randn(shape) as {\"values\": [...]}");
    add_seed_option(*noise_cmd, noise->seed, "Seed (as torch.manual_seed), 0 to 2^64 - 1")->required();
    noise_cmd->add_option("--shape", noise->shape, "N,C,H,W, each >= 0")->required()->delimiter(',')->expected(4);
    noise_cmd->callback([noise, &out] { run_noise(*noise, out); });

    auto toy = std::make_shared<toy_options>();
    CLI::App* toy_cmd = app.add_subcommand(
        "toy", "Sample the Gaussian toy model N(0, data_std^2) from x1 at sigma 1; print {\"x\": final}");
    add_schedule_flags(*toy_cmd, toy->schedule);
    add_sampler_option(*toy_cmd, toy->sampler);
    toy_cmd->add_option("--data-std", toy->data_std, "Standard deviation of the data (>= 0)");
    toy_cmd->add_option("--x1", toy->x1, "Starting value at sigma = 1");
    toy_cmd->callback([toy, &out] { run_toy(*toy, out); });
}

}  // namespace quadflow::cli
