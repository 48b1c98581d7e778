#!/usr/bin/env bash
# Builds stable-diffusion.cpp's sd-cli with tiled diffusion (quadflow) from the engine's published source: downloads
# the pinned stable-diffusion-cpp-python sdist from PyPI (its vendor/stable-diffusion.cpp is the engine at one
# commit), checks its sha256, unpacks it outside the tracked tree, applies tiled-diffusion.patch, builds sd-cli
# (CPU) against this checkout's include/, and writes the tiny FLUX.2 klein test model. Re-runnable: the archive,
# the patched source and the build folder are kept and reused.
#
#   bash integrations/stable-diffusion.cpp/build.sh            # -> build-sdcpp/bin/sd-cli, build-sdcpp/tiny/
#   QUADFLOW_SDCPP_DIR=/elsewhere bash .../build.sh          # another work folder
#   QUADFLOW_SDCPP_UNPATCHED=1 bash .../build.sh             # also build the unpatched engine (build-sdcpp/unpatched)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${QUADFLOW_SDCPP_DIR:-$root/build-sdcpp}
jobs=$(nproc 2>/dev/null || echo 2)

version=0.4.7
archive=stable_diffusion_cpp_python-$version.tar.gz
sha256=998d1957260dd5ae4e18a8acc0c14b0a8757aaa9f96515197b6d5bbf46df9282
patch_file=$here/tiled-diffusion.patch

packages=(cmake ninja-build g++ git python3-pip python3-numpy)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "sdcpp: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "sdcpp: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

mkdir -p "$work"
cd "$work"
if ! echo "$sha256  $archive" | sha256sum --check --status 2>/dev/null; then
  echo "sdcpp: downloading stable-diffusion-cpp-python==$version (sdist) from PyPI"
  rm -f "$archive"
  python3 -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation \
    "stable-diffusion-cpp-python==$version" -d . 2>/dev/null ||
    python3 -m pip download --quiet --no-deps --no-binary :all: "stable-diffusion-cpp-python==$version" -d .
  if ! echo "$sha256  $archive" | sha256sum --check --status; then
    echo "sdcpp: $archive does not have the pinned sha256 $sha256" >&2
    exit 1
  fi
fi

# The patched source, made anew whenever the patch changes (its sha256 is kept beside it). Files the new patch does
# not change keep their modification times, so the cached build recompiles only what the patch touched.
patch_sum=$(sha256sum "$patch_file" | cut -d' ' -f1)
if [ ! -f source/.quadflow-patch ] || [ "$(cat source/.quadflow-patch)" != "$patch_sum" ]; then
  echo "sdcpp: unpacking the engine and applying $(basename "$patch_file")"
  rm -rf unpack
  mkdir unpack
  tar -xzf "$archive" -C unpack
  fresh="unpack/stable_diffusion_cpp_python-$version/vendor/stable-diffusion.cpp"
  # Outside any git repository (this checkout holds the work folder), so that every path of the patch applies.
  GIT_CEILING_DIRECTORIES="$work" git -C "$fresh" apply --whitespace=nowarn "$patch_file"
  grep -q SD_QUADFLOW_INCLUDE_DIR "$fresh/CMakeLists.txt" || { echo "sdcpp: the patch did not apply" >&2; exit 1; }
  mkdir -p source
  (cd "$fresh" && find . -type f) | while read -r file; do
    if ! cmp -s "$fresh/$file" "source/$file"; then
      mkdir -p "source/$(dirname "$file")"
      cp "$fresh/$file" "source/$file"
    fi
  done
  # Files an earlier patch added and this one does not.
  (cd source && find . -type f ! -name .quadflow-patch) | while read -r file; do
    [ -e "$fresh/$file" ] || rm -f "source/$file"
  done
  rm -rf unpack
  echo "$patch_sum" >source/.quadflow-patch
fi

common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DSD_CUDA=OFF -DSD_WEBP=OFF -DSD_WEBM=OFF)
cmake -S source -B build "${common[@]}" -DSD_QUADFLOW_INCLUDE_DIR="$root/include" >/dev/null
cmake --build build --target sd-cli -j "$jobs"
mkdir -p bin
cp build/bin/sd-cli bin/sd-cli

if [ "${QUADFLOW_SDCPP_UNPATCHED:-0}" = 1 ]; then
  if [ ! -f unpatched/.complete ]; then
    rm -rf unpatched && mkdir -p unpack
    tar -xzf "$archive" -C unpack
    mv "unpack/stable_diffusion_cpp_python-$version/vendor/stable-diffusion.cpp" unpatched
    rm -rf unpack
    touch unpatched/.complete
  fi
  cmake -S unpatched -B build-unpatched "${common[@]}" >/dev/null
  cmake --build build-unpatched --target sd-cli -j "$jobs"
  cp build-unpatched/bin/sd-cli bin/sd-cli-unpatched
fi

# Debian's Python, which has python3-numpy (another python3 may come first on PATH).
/usr/bin/python3 "$here/make_tiny_flux2.py" tiny >/dev/null
echo "sdcpp: built $work/bin/sd-cli (stable-diffusion.cpp from stable-diffusion-cpp-python $version, patched);" \
  "tiny FLUX.2 klein model in $work/tiny"
