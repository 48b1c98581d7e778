// The main of a CUDA doctest program (the including file defines DOCTEST_CONFIG_IMPLEMENT).
#pragma once

#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdio>
#include <string_view>
#include <vector>

namespace cuda_fixtures {

/// A CUDA test program's main (the file defines DOCTEST_CONFIG_IMPLEMENT): `--host-only` runs the "host" suite;
/// otherwise every suite runs, or the program exits 77 ("no CUDA device: skipped") when there is no GPU.
inline int run_tests(int argc, char** argv) {
    std::vector<char*> arguments;
    bool host_only = false;
    for (int i = 0; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--host-only")
            host_only = true;
        else
            arguments.push_back(argv[i]);
    }
    doctest::Context context(static_cast<int>(arguments.size()), arguments.data());
    if (host_only) {
        context.addFilter("test-suite", "host");
        return context.run();
    }
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no CUDA device: skipped\n");
        return 77;
    }
    return context.run();
}

}  // namespace cuda_fixtures
