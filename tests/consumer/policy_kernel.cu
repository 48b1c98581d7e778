// A CUDA consumer: the host-device policy and weight math of quadflow inside a user's kernel.
#include <quadflow/blend/weights.hpp>
#include <quadflow/policy/policies.hpp>

__global__ void apply_strength(const float* model_velocity, const float* x, const float* original, float* out,
                               int count, quadflow::policy::tile_context context) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    const quadflow::policy::element e{model_velocity[i], x[i], original[i], context.strength};
    const quadflow::blend::weight_params weights{quadflow::blend::weight_kind::gaussian, 0.01f};
    out[i] =
        quadflow::blend::axis_weight(weights, i % 64, 64, 8, 8) * quadflow::policy::strength{}.velocity(context, e);
}
