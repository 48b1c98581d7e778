// quadflow Euler per-element math, host and device: x' = x + (sigma' - sigma) * v, shared by the CPU and CUDA samplers.
#pragma once

#include "quadflow/core/config.hpp"

namespace quadflow::sampler {

/// One element of an Euler step on a flow velocity (sigma convention): x + dt * v with dt = sigma' - sigma
/// (negative: sigma decreases), dt rounded to float once per step.
QUADFLOW_HOST_DEVICE inline float euler_update(float x, float velocity, float dt) { return x + dt * velocity; }

}  // namespace quadflow::sampler
