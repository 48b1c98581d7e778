// The engine's one C++20 translation unit: the implementation of quadflow's engine bridge. The engine's own
// files (C++17) include only quadflow/engine/tiled_denoiser.hpp.
#include "quadflow/engine/tiled_denoiser_impl.hpp"
