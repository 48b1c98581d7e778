// A consumer of quadflow: the umbrella header, a schedule, a layout and the version.
#include <quadflow/quadflow.hpp>

#include <cstdio>

int main() {
    const auto sigmas = quadflow::schedule::flux(4, 1024, 1024);
    const auto layout = quadflow::tile::build_grid(128, 128, quadflow::tile::grid_options{});
    std::printf("quadflow %s: %zu sigmas, %zu tiles\n", QUADFLOW_VERSION_STRING, sigmas.size(), layout.tiles.size());
    return sigmas.size() == 5 && !layout.tiles.empty() ? 0 : 1;
}
