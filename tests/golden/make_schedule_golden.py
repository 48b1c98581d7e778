#!/usr/bin/env python3
"""Writes tests/golden/schedules_golden.inc, the golden schedules that tests/test_schedule.cpp checks.

Sources:
  * every schedule of the golden table schedules.json from the reference engines (kept outside the repository), as given;
  * extra cases computed here by the reference code itself where it is installed:
      diffusers FlowMatchEulerDiscreteScheduler (static shift, and the FLUX dynamic shift exactly as
      FluxPipeline drives it: calculate_shift + sigmas = linspace(1, 1/N, N)), and
      FluxImg2ImgPipeline.get_timesteps for the diffusers strength rule (these two functions are
      read from the installed diffusers sources, whose Flux modules need transformers to import);
    and faithful transcriptions of the engines that are not pip-installable:
      BFL flux/sampling.py get_schedule (linear FLUX-schnell grid), flux/cli.py t_idx,
      ComfyUI comfy/model_sampling.py ModelSamplingFlux, comfy/samplers.py simple_scheduler,
      beta_scheduler (scipy.stats.beta.ppf, numpy.rint) and KSampler.set_steps (denoise),
      stable-diffusion.cpp t_enc (an int times a float: float32).
  Without diffusers the same cases come from transcriptions of its code (same formulas, float64).

Usage: python3 tests/golden/make_schedule_golden.py [--json PATH] [--out PATH]
Needs numpy, scipy and torch; diffusers is optional (pip install diffusers scipy).
"""

import argparse
import ast
import json
import math
import pathlib
import re
import sys

import numpy as np
import scipy
import scipy.stats
import torch

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_JSON = HERE.parents[2] / "shared" / "golden" / "schedules.json"
DEFAULT_OUT = HERE / "schedules_golden.inc"


def load_diffusers_function(module_file, name, class_name=None):
    """One function of an installed diffusers source file, executed on its own: the Flux pipeline
    modules import transformers at the top, which these few pure functions do not need."""
    tree = ast.parse(pathlib.Path(module_file).read_text())
    scope = tree.body
    if class_name is not None:
        scope = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name).body
    node = next(n for n in scope if isinstance(n, ast.FunctionDef) and n.name == name)
    node.decorator_list = []
    namespace = {}
    exec(compile(ast.Module(body=[node], type_ignores=[]), module_file, "exec"), namespace)
    return namespace[name]


try:
    import diffusers
    from diffusers import FlowMatchEulerDiscreteScheduler

    _flux_dir = pathlib.Path(diffusers.__file__).parent / "pipelines" / "flux"
    calculate_shift = load_diffusers_function(_flux_dir / "pipeline_flux.py", "calculate_shift")
    flux_img2img_get_timesteps = load_diffusers_function(_flux_dir / "pipeline_flux_img2img.py", "get_timesteps",
                                                         "FluxImg2ImgPipeline")
    HAVE_DIFFUSERS = True
except ImportError:  # transcriptions below stand in for it
    HAVE_DIFFUSERS = False


# ---------------------------------------------------------------- BFL flux/sampling.py, flux/cli.py
def bfl_time_shift(mu, sigma, t):
    return math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** sigma)


def bfl_get_lin_function(x1=256, y1=0.5, x2=4096, y2=1.15):
    m = (y2 - y1) / (x2 - x1)
    b = y1 - m * x1
    return lambda x: m * x + b


def bfl_get_schedule(num_steps, image_seq_len, base_shift=0.5, max_shift=1.15, shift=True):
    timesteps = torch.linspace(1, 0, num_steps + 1, dtype=torch.float64)
    if shift:
        mu = bfl_get_lin_function(y1=base_shift, y2=max_shift)(image_seq_len)
        timesteps = bfl_time_shift(mu, 1.0, timesteps)
    return timesteps.tolist()


def bfl_image_seq_len(width, height):
    # cli.py: x.shape[-1] * x.shape[-2] // 4 with the latent at (H/8, W/8)
    return (height // 8) * (width // 8) // 4


def bfl_start(steps, strength):
    return int((1 - strength) * steps)


# ---------------------------------------------------------------- diffusers
FLUX_SCHEDULER_CONFIG = dict(shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
                             base_image_seq_len=256, max_image_seq_len=4096)


def diffusers_flux(steps, width, height):
    """FluxPipeline.__call__: sigmas = linspace(1, 1/N, N), mu = calculate_shift(image_seq_len)."""
    image_seq_len = (height // 16) * (width // 16)
    sigmas = np.linspace(1.0, 1 / steps, steps)
    if HAVE_DIFFUSERS:
        scheduler = FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER_CONFIG)
        mu = calculate_shift(image_seq_len, 256, 4096, 0.5, 1.15)
        scheduler.set_timesteps(sigmas=sigmas, mu=mu)
        return scheduler.sigmas.double().tolist()
    mu = bfl_get_lin_function()(image_seq_len)
    return [math.exp(mu) / (math.exp(mu) + (1 / s - 1)) for s in sigmas] + [0.0]


def diffusers_static(steps, shift, num_train_timesteps=1000):
    """FlowMatchEulerDiscreteScheduler(shift).set_timesteps(N): sigma_min shifted twice."""
    if HAVE_DIFFUSERS:
        scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=num_train_timesteps, shift=shift)
        scheduler.set_timesteps(steps)
        return scheduler.sigmas.double().tolist()
    t = np.linspace(1, num_train_timesteps, num_train_timesteps)[::-1] / num_train_timesteps
    t = shift * t / (1 + (shift - 1) * t)
    s = np.linspace(t[0] * num_train_timesteps, t[-1] * num_train_timesteps, steps) / num_train_timesteps
    return list(shift * s / (1 + (shift - 1) * s)) + [0.0]


def diffusers_shifted_grid(steps, shift):
    """SD3 static shift applied once to linspace(1, 1/N, N) (custom sigmas through the scheduler)."""
    sigmas = np.linspace(1.0, 1 / steps, steps)
    if HAVE_DIFFUSERS:
        scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
        scheduler.set_timesteps(sigmas=sigmas)
        return scheduler.sigmas.double().tolist()
    return [shift * s / (1 + (shift - 1) * s) for s in sigmas] + [0.0]


def diffusers_start(steps, strength):
    if HAVE_DIFFUSERS:
        class Holder:  # the attributes get_timesteps reads
            pass

        holder = Holder()
        holder.scheduler = FlowMatchEulerDiscreteScheduler(**FLUX_SCHEDULER_CONFIG)
        holder.scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=1.15)
        _, remaining = flux_img2img_get_timesteps(holder, steps, strength, "cpu")
        return steps - remaining
    init_timestep = min(steps * strength, steps)
    return int(max(steps - init_timestep, 0))


# ---------------------------------------------------------------- ComfyUI
def comfy_flux_table(mu, dtype=torch.float64):
    # ModelSamplingFlux.set_parameters: sigma((arange(1, 10001) / 10000)), flux_time_shift(mu, 1.0, t)
    t = torch.arange(1, 10000 + 1, 1, dtype=dtype) / 10000
    return math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** 1.0)


def comfy_simple(steps, mu, dtype=torch.float64):
    sigmas = comfy_flux_table(mu, dtype)
    sigs = []
    ss = len(sigmas) / steps
    for x in range(steps):
        sigs += [float(sigmas[-(1 + int(x * ss))])]
    sigs += [0.0]
    return sigs


def comfy_beta_indices(steps, alpha=0.6, beta=0.6):
    total_timesteps = 10000 - 1
    ts = 1 - np.linspace(0, 1, steps, endpoint=False)
    ts = np.rint(scipy.stats.beta.ppf(ts, alpha, beta) * total_timesteps)
    indices = []
    last_t = -1
    for t in ts:
        if t != last_t:
            indices.append(int(t))
        last_t = t
    return indices


def comfy_beta(steps, mu, alpha=0.6, beta=0.6, dtype=torch.float64):
    sigmas = comfy_flux_table(mu, dtype)
    return [float(sigmas[i]) for i in comfy_beta_indices(steps, alpha, beta)] + [0.0]


def comfy_denoise(make, steps, denoise):
    # KSampler.set_steps
    if denoise is None or denoise > 0.9999:
        return make(steps)
    new_steps = int(steps / denoise)
    return make(new_steps)[-(steps + 1):]


def comfy_start(steps, strength):
    return steps - round(strength * steps)


# ---------------------------------------------------------------- stable-diffusion.cpp
def sdcpp_start(steps, strength):
    t_enc = int(np.float32(steps) * np.float32(strength))  # size_t(int * float)
    if t_enc == steps:
        t_enc -= 1
    return steps - t_enc - 1


STRENGTH_RULES = {"comfy": comfy_start, "diffusers": diffusers_start, "bfl": bfl_start, "sdcpp": sdcpp_start}


def strength_start(rule, steps, strength):
    if strength == 0.0 and rule == "sdcpp":
        return steps  # the library's convention (sd.cpp's formula would give N - 1): only sigma 0 is left
    return STRENGTH_RULES[rule](steps, strength)


# ---------------------------------------------------------------- cases
def schedule_case(name, generator, sigmas, steps, width=0, height=0, mu=0.0, shift=0.0, alpha=0.0, beta=0.0,
                  denoise=1.0):
    return dict(name=name, generator=generator, steps=steps, width=width, height=height, mu=mu, shift=shift,
                alpha=alpha, beta=beta, denoise=denoise, sigmas=[float(s) for s in sigmas])


def reference_schedule(c):
    """The schedule a case names, from the reference engines (checks the golden table's cases)."""
    steps, generator = c["steps"], c["generator"]
    if generator == "flux":
        return diffusers_flux(steps, c["width"], c["height"])
    if generator == "diffusers":
        return diffusers_static(steps, c["shift"])
    if generator == "comfy_simple":
        return comfy_denoise(lambda n: comfy_simple(n, c["mu"]), steps, c["denoise"])
    if generator == "comfy_beta":
        return comfy_denoise(lambda n: comfy_beta(n, c["mu"], c["alpha"], c["beta"]), steps, c["denoise"])
    raise SystemExit(f"no reference for generator {generator}")


def golden_json_cases(path):
    data = json.loads(pathlib.Path(path).read_text())
    schedules, strengths = [], []
    for c in data["schedules"]:
        name = c["name"]
        if "rule" in c:
            size = re.search(r"(\d+)\^2", name)
            side = int(size.group(1)) if size else 1024
            full = bfl_get_schedule(c["steps"], bfl_image_seq_len(side, side))
            start = strength_start(c["rule"], c["steps"], c["strength"])
            assert max(abs(a - b) for a, b in zip(full[start:], c["sigmas"])) < 1e-6, name
            strengths.append(dict(name=name, rule=c["rule"], steps=c["steps"], strength=c["strength"], width=side,
                                  height=side, start=start, sigmas=c["sigmas"]))
        elif name.startswith("comfy simple"):
            schedules.append(schedule_case(name, "comfy_simple", c["sigmas"], c["steps"], mu=c["mu"],
                                           denoise=c.get("denoise", 1.0)))
        elif name.startswith("comfy beta"):
            schedules.append(schedule_case(name, "comfy_beta", c["sigmas"], c["steps"], mu=c["mu"], alpha=0.6,
                                           beta=0.6, denoise=c.get("denoise", 1.0)))
        elif name.startswith("diffusers FlowMatchEuler"):
            schedules.append(schedule_case(name, "diffusers", c["sigmas"], c["steps"], shift=c["shift"]))
        elif name.startswith("flux"):
            schedules.append(schedule_case(name, "flux", c["sigmas"], c["steps"], width=c["width"],
                                           height=c["height"]))
        else:
            raise SystemExit(f"unknown golden schedule case: {name}")
    for c in schedules:
        reference = reference_schedule(c)
        assert len(reference) == len(c["sigmas"]), c["name"]
        assert max(abs(a - b) for a, b in zip(reference, c["sigmas"])) < 1e-6, c["name"]
    return schedules, strengths


def extra_schedule_cases():
    cases = []
    for width, height in [(512, 512), (1024, 1024), (1536, 1024), (768, 1344)]:
        for steps in [1, 4, 20, 28, 50]:
            sigmas = diffusers_flux(steps, width, height)
            bfl = bfl_get_schedule(steps, bfl_image_seq_len(width, height))
            assert max(abs(a - b) for a, b in zip(sigmas, bfl)) < 1e-6, "diffusers FluxPipeline != BFL get_schedule"
            cases.append(schedule_case(f"diffusers FluxPipeline {width}x{height} {steps} steps", "flux", sigmas, steps,
                                       width=width, height=height))
    for mu in [0.5, 0.8, 1.15, 1.5]:
        for steps in [4, 20]:
            image_free = bfl_get_schedule(steps, 0, shift=False)
            sigmas = [bfl_time_shift(mu, 1.0, t) if t > 0 else 0.0 for t in image_free]
            cases.append(schedule_case(f"BFL time_shift mu={mu} {steps} steps", "flux_mu", sigmas, steps, mu=mu))
    for steps in [1, 4, 20, 50]:
        cases.append(schedule_case(f"BFL get_schedule shift=False (schnell) {steps} steps", "linear",
                                   bfl_get_schedule(steps, 0, shift=False), steps))
    for shift in [1.0, 3.0, 6.0]:
        for steps in [1, 4, 28, 50]:
            cases.append(schedule_case(f"diffusers FlowMatchEuler shift={shift} static {steps} steps", "diffusers",
                                       diffusers_static(steps, shift), steps, shift=shift))
        for steps in [4, 28]:
            cases.append(schedule_case(f"diffusers FlowMatchEuler shift={shift} on linspace(1, 1/N, N) {steps} steps",
                                       "shifted", diffusers_shifted_grid(steps, shift), steps, shift=shift))
    for mu in [1.15, 0.5]:
        for steps in [1, 4, 20, 30, 50]:
            for denoise in [1.0, 0.75, 0.5, 0.3]:
                simple = comfy_denoise(lambda n: comfy_simple(n, mu), steps, denoise)
                cases.append(schedule_case(f"comfy simple mu={mu} {steps} steps denoise {denoise}", "comfy_simple",
                                           simple, steps, mu=mu, denoise=denoise))
                beta = comfy_denoise(lambda n: comfy_beta(n, mu), steps, denoise)
                cases.append(schedule_case(f"comfy beta mu={mu} {steps} steps denoise {denoise}", "comfy_beta", beta,
                                           steps, mu=mu, alpha=0.6, beta=0.6, denoise=denoise))
    for alpha, beta in [(0.5, 0.7), (2.0, 2.0), (1.0, 1.0)]:
        for steps in [4, 20]:
            cases.append(schedule_case(f"comfy beta alpha={alpha} beta={beta} {steps} steps", "comfy_beta",
                                       comfy_beta(steps, 1.15, alpha, beta), steps, mu=1.15, alpha=alpha, beta=beta))
    return cases


def extra_strength_cases():
    cases = []
    for steps in [1, 4, 20, 28, 50, 100]:
        full = bfl_get_schedule(steps, bfl_image_seq_len(1024, 1024))
        for strength in [0.0, 0.2, 0.3, 0.5, 0.53, 0.58, 0.8, 1.0]:
            for rule in STRENGTH_RULES:
                start = strength_start(rule, steps, strength)
                cases.append(dict(name=f"{rule} strength {strength} {steps} steps 1024^2", rule=rule, steps=steps,
                                  strength=strength, width=1024, height=1024, start=start, sigmas=full[start:]))
    return cases


def beta_quantile_cases():
    qs = [1e-12, 1e-6, 1e-3, 0.01, 0.05, 0.1, 0.2, 1 / 3, 0.45, 0.5, 0.55, 2 / 3, 0.8, 0.9, 0.95, 0.99, 0.999,
          1 - 1e-6, 1 - 1e-12]
    cases = []
    for a, b in [(0.6, 0.6), (0.5, 0.7), (0.3, 0.9), (1.0, 1.0), (2.0, 3.0), (5.0, 0.8), (20.0, 20.0)]:
        for q in qs:
            cases.append((q, a, b, float(scipy.stats.beta.ppf(q, a, b))))
    return cases


def beta_index_cases():
    cases = [(steps, 0.6, 0.6, comfy_beta_indices(steps)) for steps in range(1, 201)]
    cases += [(steps, 0.5, 0.7, comfy_beta_indices(steps, 0.5, 0.7)) for steps in range(1, 61)]
    # Beta(2, 2) at 135 steps and the uniform at 18 hit exact ties of rint (x = 1/6: 1666.5)
    cases += [(steps, 2.0, 2.0, comfy_beta_indices(steps, 2.0, 2.0)) for steps in list(range(1, 61)) + [135, 270]]
    cases += [(steps, 1.0, 1.0, comfy_beta_indices(steps, 1.0, 1.0)) for steps in [18, 22, 36]]
    return cases


def check_transcriptions_against_float32():
    """The float64 ComfyUI transcription picks the same table entries as ComfyUI's float32 table."""
    for steps in [1, 4, 20, 30]:
        for mu in [1.15, 0.5]:
            a, b = comfy_simple(steps, mu), comfy_simple(steps, mu, torch.float32)
            assert max(abs(x - y) for x, y in zip(a, b)) < 1e-6
            a, b = comfy_beta(steps, mu), comfy_beta(steps, mu, dtype=torch.float32)
            assert len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < 1e-6


# ---------------------------------------------------------------- output
def g(x):
    return "%.17g" % x


def doubles(values):
    return "{" + ", ".join(g(v) for v in values) + "}"


def cstr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(DEFAULT_JSON))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()

    check_transcriptions_against_float32()
    json_schedules, json_strengths = golden_json_cases(args.json)
    schedules = json_schedules + extra_schedule_cases()
    strengths = json_strengths + extra_strength_cases()
    quantiles = beta_quantile_cases()
    index_lists = beta_index_cases()

    engines = f"numpy {np.__version__}, scipy {scipy.__version__}, torch {torch.__version__}"
    engines += f", diffusers {diffusers.__version__}" if HAVE_DIFFUSERS else ", diffusers transcribed (not installed)"
    out = [
        "// Generated by tests/golden/make_schedule_golden.py; do not edit.",
        f"// {len(json_schedules) + len(json_strengths)} cases from shared/golden/schedules.json, the rest from the "
        "reference engines:",
        f"// {engines}.",
        "// Needs golden_schedule, golden_strength, golden_quantile and golden_beta_indices declared first.",
        "",
        "inline const golden_schedule golden_schedules[] = {",
    ]
    for c in schedules:
        out.append(f"    {{{cstr(c['name'])}, {cstr(c['generator'])}, {c['steps']}, {c['width']}, {c['height']}, "
                   f"{g(c['mu'])}, {g(c['shift'])}, {g(c['alpha'])}, {g(c['beta'])}, {g(c['denoise'])},")
        out.append(f"     {doubles(c['sigmas'])}}},")
    out += ["};", "", "inline const golden_strength golden_strengths[] = {"]
    for c in strengths:
        out.append(f"    {{{cstr(c['name'])}, {cstr(c['rule'])}, {c['steps']}, {g(c['strength'])}, {c['width']}, "
                   f"{c['height']}, {c['start']},")
        out.append(f"     {doubles(c['sigmas'])}}},")
    out += ["};", "", "inline const golden_quantile golden_beta_quantiles[] = {"]
    for q, a, b, x in quantiles:
        out.append(f"    {{{g(q)}, {g(a)}, {g(b)}, {g(x)}}},")
    out += ["};", "", "inline const golden_beta_indices golden_beta_index_lists[] = {"]
    for steps, a, b, indices in index_lists:
        out.append(f"    {{{steps}, {g(a)}, {g(b)}, {{{', '.join(str(i) for i in indices)}}}}},")
    out += ["};", ""]
    pathlib.Path(args.out).write_text("\n".join(out))
    print(f"wrote {args.out}: {len(schedules)} schedules, {len(strengths)} strength cases, {len(quantiles)} quantiles, "
          f"{len(index_lists)} beta index lists ({engines})", file=sys.stderr)


if __name__ == "__main__":
    main()
