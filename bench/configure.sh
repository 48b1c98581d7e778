# quadflow benchmark scripts: the start of bench/<name>/run.sh, sourced with <name> and CMake options. Sets root,
# build (BUILD_DIR, default build) and results (bench/<name>/results, made here), and configures Release in $build.
#   source "$(dirname "${BASH_SOURCE[0]}")/../configure.sh" learned -DQUADFLOW_ENABLE_LIBTORCH=ON
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
results=$root/bench/$1/results
mkdir -p "$results"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "${@:2}" >/dev/null
