# CLI tests: each runs the quadflow tool and checks its exit code and output (cmake/run_cli.cmake).
# Arguments are separated by '|' in quadflow_cli_test(NAME CODE REGEX ARGS...).
function(quadflow_cli_test name code regex)
  string(JOIN "|" joined $<TARGET_FILE:quadflow_cli> ${ARGN})
  add_test(NAME "cli: ${name}"
    COMMAND ${CMAKE_COMMAND} "-DCOMMAND=${joined}" "-DEXPECT_CODE=${code}" "-DEXPECT_REGEX=${regex}"
            ${QUADFLOW_CLI_TEST_EXTRA} -P ${PROJECT_SOURCE_DIR}/cmake/run_cli.cmake)
endfunction()

function(quadflow_cli_error_test name regex)
  set(QUADFLOW_CLI_TEST_EXTRA "-DEXPECT_LINES=1")
  quadflow_cli_test("${name}" 2 "${regex}" ${ARGN})
endfunction()

# A run whose stderr (not a terminal under ctest) must hold no '\r' progress redraws.
function(quadflow_cli_plain_progress_test name regex)
  set(QUADFLOW_CLI_TEST_EXTRA "-DNO_CARRIAGE_RETURN=ON")
  quadflow_cli_test("${name}" 0 "${regex}" ${ARGN})
endfunction()

# A successful run that writes `file`, whose first bytes are `head` (hex).
function(quadflow_cli_file_test name file head regex)
  set(QUADFLOW_CLI_TEST_EXTRA "-DEXPECT_FILE=${file}" "-DEXPECT_FILE_HEAD=${head}")
  quadflow_cli_test("${name}" 0 "${regex}" ${ARGN})
endfunction()

# Golden values: tests/golden (make_schedule_golden.py, make_torch_randn_golden.py).
quadflow_cli_test("schedule flux 4 steps" 0
  "^\\{\"sigmas\": \\[1, 0\\.904530766738639[0-9]*, 0\\.759510916949111[0-9]*, 0\\.512844101509133[0-9]*, 0\\]\\}"
  schedule --steps 4)
quadflow_cli_test("schedule comfy simple denoise 0.5" 0 "^\\{\"sigmas\": \\[0\\.759510916949111[0-9]*, 0\\.654566803387617"
  schedule --steps 4 --scheduler comfy-simple --denoise 0.5)
quadflow_cli_test("schedule diffusers strength 0.5" 0 "^\\{\"sigmas\": \\[0\\.759510916949111[0-9]*, 0\\.72098027574643"
  schedule --steps 20 --strength 0.5 --strength-rule diffusers)
quadflow_cli_test("schedule sdcpp strength 0.5" 0 "^\\{\"sigmas\": \\[0\\.794239257068268"
  schedule --steps 20 --strength 0.5 --strength-rule sdcpp)
quadflow_cli_test("noise seed 42" 0 "^\\{\"values\": \\[1\\.9269153, 1\\.4872841, 0\\.9007172"
  noise --seed 42 --shape 1,16,8,8)
quadflow_cli_test("toy euler" 0 "^\\{\"x\": 0\\.204371[0-9]*\\}" toy --sampler euler --steps 4)
quadflow_cli_test("toy heun" 0 "^\\{\"x\": 0\\.217605[0-9]*\\}" toy --sampler heun --steps 4)
quadflow_cli_test("toy dpmpp-2m" 0 "^\\{\"x\": 0\\.212485[0-9]*\\}" toy --sampler dpmpp-2m --steps 4)

quadflow_cli_error_test("unknown flag" "--frobnicate" schedule --frobnicate 3)
quadflow_cli_error_test("steps 0" "^error: --steps = 0: must be >= 1\n$" schedule --steps 0)
quadflow_cli_error_test("bad scheduler" "--scheduler.*karras" schedule --scheduler karras)
quadflow_cli_error_test("denoise out of range" "denoise = 1\\.5" schedule --denoise 1.5)
quadflow_cli_error_test("strength out of range" "strength = -0\\.1" schedule --strength -0.1)
quadflow_cli_error_test("width not a multiple of 16" "width = 1000" schedule --width 1000)
quadflow_cli_error_test("bad sampler" "--sampler.*ddim" toy --sampler ddim)
quadflow_cli_error_test("noise shape" "--shape" noise --seed 1 --shape 1,2,3)

# Tile layouts; the images come from tests/data/make_images.py.
set(QUADFLOW_TEST_IMAGES ${PROJECT_SOURCE_DIR}/tests/data)
set(QUADFLOW_CLI_OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/cli_test_output)
file(MAKE_DIRECTORY ${QUADFLOW_CLI_OUTPUT})
# Regexes for the layout JSON: {"width": W, "height": H, "tiles": [TILE, ...]}\n (denoise given as a regex).
function(quadflow_tile_regex out x y w h denoise)
  set(${out} "\\{\"x\": ${x}, \"y\": ${y}, \"w\": ${w}, \"h\": ${h}, \"denoise\": ${denoise}\\}" PARENT_SCOPE)
endfunction()
function(quadflow_layout_regex out width height)
  string(JOIN ", " tiles ${ARGN})
  set(${out} "^\\{\"width\": ${width}, \"height\": ${height}, \"tiles\": \\[${tiles}\\]\\}\n$" PARENT_SCOPE)
endfunction()
quadflow_tile_regex(any_tile "[0-9]+" "[0-9]+" "[0-9]+" "[0-9]+" "[0-9.e-]+")

quadflow_tile_regex(whole_flat 0 0 64 64 "0\\.2")
quadflow_layout_regex(flat_layout 64 64 "${whole_flat}")
quadflow_cli_test("quadtree flat image is one tile" 0 "${flat_layout}"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png)

# The 16x16 checkerboard corner splits down to 8 px leaves: 4 of 8 px, 3 of 16 px, 3 of 32 px.
quadflow_tile_regex(first_8px 0 0 8 8 "0\\.8")
quadflow_tile_regex(last_16px 16 16 16 16 "0\\.5")
quadflow_tile_regex(last_32px 32 32 32 32 "0\\.2")
quadflow_layout_regex(corner_layout 64 64 "${first_8px}" ${any_tile} ${any_tile} ${any_tile} ${any_tile} ${any_tile}
  "${last_16px}" ${any_tile} ${any_tile} "${last_32px}")
quadflow_cli_test("quadtree detailed corner" 0 "${corner_layout}"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --denoise-rule depth
  --json ${QUADFLOW_CLI_OUTPUT}/corner_64.json --overlay ${QUADFLOW_CLI_OUTPUT}/corner_64_overlay.png)
quadflow_layout_regex(depth_1_layout 64 64 ${any_tile} ${any_tile} ${any_tile} "${last_32px}")
quadflow_cli_test("quadtree max depth 1" 0 "${depth_1_layout}"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --max-depth 1)

# 1024 px = 128 latent px, tiles of 96 with overlap 8: two per axis, at 0 and 32 latent px.
quadflow_tile_regex(grid_first 0 0 768 768 1)
quadflow_tile_regex(grid_last 256 256 768 768 1)
quadflow_layout_regex(grid_layout 1024 1024 "${grid_first}" ${any_tile} ${any_tile} "${grid_last}")
quadflow_cli_test("grid 1024x1024 defaults" 0 "${grid_layout}" grid --width 1024 --height 1024)
quadflow_tile_regex(grid_whole 0 0 512 256 1)
quadflow_layout_regex(small_grid_layout 512 256 "${grid_whole}")
quadflow_cli_test("grid smaller than a tile" 0 "${small_grid_layout}" grid --width 512 --height 256)

quadflow_cli_error_test("quadtree missing image" "--image: cannot read image '.*no_such_image\\.png': No such file"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/no_such_image.png)
quadflow_cli_error_test("quadtree truncated image" "--image: cannot read image '.*truncated\\.png': Corrupt PNG"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/truncated.png)
quadflow_cli_error_test("quadtree text file named .png" "not_an_image\\.png': Image not of any known type"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/not_an_image.png)
quadflow_cli_error_test("quadtree image over the pixel limit"
  "huge_rgb_100000\\.png': 100000x100000 = 10000000000 pixels is more than the limit of 268435456"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/huge_rgb_100000.png)
quadflow_cli_error_test("quadtree --max-pixels" "64x64 = 4096 pixels is more than the limit of 100"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --max-pixels 100)
quadflow_cli_error_test("quadtree threshold -1" "--threshold = -1: must be finite and > 0"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --threshold -1)
quadflow_cli_error_test("quadtree unknown flag" "--frobnicate"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --frobnicate 3)
quadflow_cli_error_test("quadtree bad denoise rule" "--denoise-rule.*cubic"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --denoise-rule cubic)
quadflow_cli_error_test("quadtree min denoise above max" "--min-denoise = 0\\.9: must be <= --max-denoise = 0\\.8"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --min-denoise 0.9)
quadflow_cli_error_test("quadtree align not a multiple of the latent scale" "--align = 12"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --align 12)
quadflow_cli_error_test("quadtree without --image" "--image is required" quadtree)
quadflow_cli_error_test("quadtree unwritable --json" "--json: cannot write '/nonexistent_quadflow_dir/out\\.json'"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --json /nonexistent_quadflow_dir/out.json)
quadflow_cli_error_test("grid width not a multiple of the latent scale"
  "--width = 1020: must be a positive multiple of --latent-scale = 8" grid --width 1020 --height 1024)
quadflow_cli_error_test("grid overlap not below the tile" "--overlap = 96: must be in \\[0, --tile\\)"
  grid --width 1024 --height 1024 --overlap 96)
quadflow_cli_error_test("grid without --height" "--height is required" grid --width 1024)

# The README's embedding example: compiled as shown, runs, and keeps tile 0 exactly.
add_test(NAME "readme: embedding example is examples/minimal.cpp"
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/readme_snippet.cmake)
add_test(NAME "readme: embedding example runs" COMMAND quadflow_minimal)
set_tests_properties("readme: embedding example runs" PROPERTIES PASS_REGULAR_EXPRESSION "model calls 24, x\\[0\\] = 0\\.2000")

# img2img and the demo (pixel space, the bundled photo).
set(demo_image ${PROJECT_SOURCE_DIR}/examples/data/astronaut.png)
# Exact to float rounding: below 1e-4 in 0..255 units.
quadflow_cli_test("img2img strength keeps preserved tiles exactly" 0
  "\"low_strength_error\": (0,|0\\.0000|[0-9.]+e-(0[5-9]|[1-9][0-9]))"
  img2img --image ${demo_image} --out ${CMAKE_CURRENT_BINARY_DIR}/img2img_strength.png --policy strength --min-denoise 0 --steps 8 --seed-tiles)
quadflow_cli_test("img2img scale freezes preserved tiles in noise" 0 "\"low_strength_error\": ([4-9][0-9]|1[0-9][0-9])\\."
  img2img --image ${demo_image} --out ${CMAKE_CURRENT_BINARY_DIR}/img2img_scale.png --policy scale --min-denoise 0 --steps 8 --seed-tiles)
quadflow_cli_plain_progress_test("demo writes the contact sheet and report" "wrote .*contact_sheet"
  demo --out-dir ${CMAKE_CURRENT_BINARY_DIR}/demo --steps 6)
quadflow_cli_error_test("img2img unknown policy" "--policy.*magic"
  img2img --image ${demo_image} --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --policy magic)
quadflow_cli_test("img2img mask with a slope-limited map keeps preserved tiles exactly" 0
  "\"low_strength_error\": (0,|0\\.0000|[0-9.]+e-(0[5-9]|[1-9][0-9]))"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/img2img_mask_slope.png --policy mask --mask-slope 0.1 --min-denoise 0 --steps 4)
# Model tiles of 32..64 px over corner_64's 10 quadtree leaves: four of 32 px; the mask keeps d = 0 leaves exactly.
quadflow_cli_test("img2img model tiles: no tile below the minimum, preserved leaves exact" 0
  "\"policy\": \"mask\", \"low_strength_error\": (0|[0-9.]+e-(0[5-9]|[1-9][0-9])),.*\"tiles\": 4, \"fine_tiles\": 10, \"smallest_tile_side\": 32,"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/img2img_model_tiles.png
  --model-tiles --min-model-tile 32 --max-model-tile 64 --align-model 2 --min-denoise 0 --steps 4)
quadflow_cli_error_test("img2img model tiles max below twice the min" "--max-model-tile = 100: must be >= 127"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --model-tiles --max-model-tile 100)
quadflow_cli_error_test("img2img model tile size with --seed-tiles" "--seed-tiles excludes --min-model-tile"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --min-model-tile 32 --seed-tiles)
# The default: model-sized tiles (64..128 latent px at latent scale 1 here: one tile for a 64 px image).
quadflow_cli_test("img2img runs on model tiles by default, with the mask policy" 0
  "\"policy\": \"mask\", \"low_strength_error\": (0|[0-9.]+e-(0[5-9]|[1-9][0-9])),.*\"tiles\": 1, \"fine_tiles\": 10, \"smallest_tile_side\": 64,"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/img2img_default_tiles.png --steps 4)
quadflow_cli_test("img2img --seed-tiles sends the quadtree's leaves to the model" 0
  "\"policy\": \"strength\", .*\"tiles\": 10, \"fine_tiles\": 10,"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/img2img_seed_tiles.png --steps 4 --seed-tiles)
quadflow_cli_error_test("img2img mask slope 0" "slope = 0: must be > 0"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --policy mask --mask-slope 0 --steps 1)
quadflow_cli_error_test("img2img mask of the wrong size" "--mask = .*64x64.*512x512"
  img2img --image ${demo_image} --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --policy mask --mask ${PROJECT_SOURCE_DIR}/tests/data/flat_64.png)
quadflow_cli_error_test("img2img missing image" "no_such.png"
  img2img --image ${PROJECT_SOURCE_DIR}/no_such.png --out ${CMAKE_CURRENT_BINARY_DIR}/x.png)
quadflow_cli_error_test("img2img denoise out of range" "--denoise = 0"
  img2img --image ${demo_image} --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --denoise 0)

# Bad-input audit (docs/errors.md): each exits with code 2 and one line naming the flag or parameter and the value.
quadflow_cli_error_test("schedule more than max_steps" "steps = 2000000: must be <= max_steps = 1048576"
  schedule --steps 2000000)
quadflow_cli_error_test("schedule --denoise with --strength" "--denoise = 0\\.5: cannot be combined with --strength"
  schedule --denoise 0.5 --strength 0.5)
quadflow_cli_error_test("schedule mu nan" "mu = nan: must be finite" schedule --mu nan)
quadflow_cli_error_test("schedule steps not a number" "Could not convert: --steps = abc\n$" schedule --steps abc)
quadflow_cli_error_test("schedule static shift 0" "shift = 0: must be finite and > 0" schedule --scheduler shift --shift 0)
quadflow_cli_error_test("noise too many values"
  "--shape = \\[1, 16, 1024, 1024\\]: must have at most 1048576 values" noise --seed 1 --shape 1,16,1024,1024)
quadflow_cli_error_test("noise negative extent" "--shape = \\[1, -1, 2, 2\\]: every extent must be >= 0"
  noise --seed 1 --shape 1,-1,2,2)
quadflow_cli_error_test("toy x1 nan" "x\\[0\\] = nan: the starting canvas must be finite" toy --x1 nan)
quadflow_cli_error_test("toy negative data std" "--data-std = -1: must be >= 0" toy --data-std -1)
quadflow_cli_error_test("quadtree image is a directory" "--image: cannot read image '.*': Is a directory"
  quadtree --image ${QUADFLOW_TEST_IMAGES})
quadflow_cli_error_test("quadtree latent scale 0" "--latent-scale = 0: must be > 0"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --latent-scale 0)
quadflow_cli_error_test("quadtree max tile below two leaves" "--max-tile = 8: must be 0 or >= 16 px"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --max-tile 8)
quadflow_cli_error_test("quadtree threshold nan" "--threshold = nan: must be finite and > 0"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --threshold nan)
quadflow_cli_error_test("quadtree max pixels 0" "--max-pixels = 0: must be > 0"
  quadtree --image ${QUADFLOW_TEST_IMAGES}/flat_64.png --max-pixels 0)
quadflow_cli_error_test("grid tile 0" "--tile = 0: must be > 0" grid --width 1024 --height 1024 --tile 0)
quadflow_cli_error_test("grid wider than max_layout_side" "--width = 1073741824: must be at most max_layout_side"
  grid --width 1073741824 --height 1024)
quadflow_cli_error_test("grid more than max_grid_tiles"
  "--tile = 1: with --overlap = 0 gives 1050625 tiles on a 1025x1025 canvas, more than max_grid_tiles = 1048576"
  grid --width 8200 --height 8200 --tile 1 --overlap 0)
quadflow_cli_error_test("img2img tile batch 0" "--tile-batch = 0: must be >= 1"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --tile-batch 0)
quadflow_cli_error_test("img2img unwritable output, before any work"
  "--out: cannot write '/nonexistent_quadflow_dir/x\\.png': No such file or directory"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out /nonexistent_quadflow_dir/x.png --steps 1)
quadflow_cli_error_test("img2img min denoise 2" "--min-denoise = 2: must be in \\[0, 1\\]"
  img2img --image ${QUADFLOW_TEST_IMAGES}/corner_64.png --out ${CMAKE_CURRENT_BINARY_DIR}/x.png --min-denoise 2)
quadflow_cli_error_test("img2img truncated image" "cannot read image '.*truncated\\.png': Corrupt PNG"
  img2img --image ${QUADFLOW_TEST_IMAGES}/truncated.png --out ${CMAKE_CURRENT_BINARY_DIR}/x.png)
quadflow_cli_error_test("demo steps 0" "--steps = 0: must be >= 1" demo --steps 0)
quadflow_cli_error_test("demo output folder cannot be created" "--out-dir: cannot create '.*flat_64\\.png/demo'"
  demo --out-dir ${QUADFLOW_TEST_IMAGES}/flat_64.png/demo --steps 1)

# Issue 14: CLI and docs found stale or surprising.
set(out ${QUADFLOW_CLI_OUTPUT})
set(corner ${QUADFLOW_TEST_IMAGES}/corner_64.png)
quadflow_cli_plain_progress_test("img2img progress without a terminal is one plain line" "(^|\n)mask: 2/2 steps\n"
  img2img --image ${corner} --out ${out}/progress.png --steps 2)
quadflow_cli_test("help shows defaults" 0 "--steps INT=20 .*--min-denoise FLOAT=0 .*--seed UINT64=42"
  img2img --help)
quadflow_cli_test("demo help shows the same defaults" 0 "--steps INT=20 .*--seed UINT64=42 .*--min-denoise FLOAT=0 .*--max-denoise FLOAT=0\\.8"
  demo --help)
quadflow_cli_test("version" 0 "^${PROJECT_VERSION}\n$" --version)
quadflow_cli_error_test("unknown command is named"
  "^error: unknown command 'frobnicate' \\(commands: schedule, noise, toy, quadtree, grid, img2img, demo\\)\n$" frobnicate)
quadflow_cli_error_test("img2img skip flag with another policy"
  "--skip-below = 64: only --policy skip reads it, not --policy strength"
  img2img --image ${corner} --out ${out}/x.png --policy strength --skip-below 64)
quadflow_cli_error_test("img2img mask flag with another policy" "--mask-slope = 0\\.1: only --policy mask reads it, not --policy scale"
  img2img --image ${corner} --out ${out}/x.png --policy scale --mask-slope 0.1)
quadflow_cli_error_test("img2img preservation with another policy"
  "--preservation = exact: only --policy preservation_blend reads it, not --policy mask"
  img2img --image ${corner} --out ${out}/x.png --preservation exact)
quadflow_cli_error_test("img2img strength rule with another policy" "--strength-rule = bfl: only --policy strength reads it, not --policy mask"
  img2img --image ${corner} --out ${out}/x.png --policy mask --strength-rule bfl)
quadflow_cli_error_test("noise seed above 2^64 - 1"
  "^error: --seed = 18446744073709551616: must be an integer in \\[0, 18446744073709551615\\]\n$"
  noise --seed 18446744073709551616 --shape 1,1,1,1)
quadflow_cli_error_test("img2img negative seed" "--seed = -1: must be an integer"
  img2img --image ${corner} --out ${out}/x.png --seed -1)
quadflow_cli_test("noise seed 2^64 - 1" 0 "^\\{\"values\": \\[" noise --seed 18446744073709551615 --shape 1,1,1,1)
quadflow_cli_file_test("img2img --out .jpg writes a JPEG" ${out}/img2img.jpg "ffd8ff" "\"policy\": \"mask\""
  img2img --image ${corner} --out ${out}/img2img.jpg --steps 2)
quadflow_cli_file_test("img2img --out .png writes a PNG" ${out}/img2img.png "89504e47" "\"policy\": \"mask\""
  img2img --image ${corner} --out ${out}/img2img.png --steps 2)
quadflow_cli_file_test("quadtree --overlay .jpeg writes a JPEG" ${out}/overlay.jpeg "ffd8ff" "\"tiles\""
  quadtree --image ${corner} --overlay ${out}/overlay.jpeg)
quadflow_cli_error_test("img2img --out with another extension" "--out = .*x\\.bmp: must end in \\.png, \\.jpg or \\.jpeg"
  img2img --image ${corner} --out ${out}/x.bmp)
quadflow_cli_error_test("img2img latent scale 3 names the flags"
  "^error: --align = 8: must be a positive multiple of --latent-scale = 3"
  img2img --image ${corner} --out ${out}/x.png --latent-scale 3)
quadflow_cli_test("img2img default min denoise is the demo's 0: preserved tiles stay exact" 0
  "\"low_strength_error\": (0,|0\\.0000|[0-9.]+e-(0[5-9]|[1-9][0-9]))"
  img2img --image ${corner} --out ${out}/default_min_denoise.png --steps 2)
quadflow_cli_file_test("grid --overlay writes a PNG" ${out}/grid_overlay.png "89504e47" "\"tiles\""
  grid --width 64 --height 64 --tile 4 --overlap 1 --image ${corner} --overlay ${out}/grid_overlay.png)
quadflow_cli_file_test("grid --overlay without --image" ${out}/grid_grey.png "89504e47" "\"tiles\""
  grid --width 1024 --height 512 --overlay ${out}/grid_grey.png)
quadflow_cli_error_test("grid --overlay image of another size" "--image = .*corner_64\\.png: is 64x64 but --width x --height is 128x64"
  grid --width 128 --height 64 --image ${corner} --overlay ${out}/x.png)
quadflow_cli_error_test("grid --overlay with another extension" "--overlay = .*x\\.gif: must end in \\.png, \\.jpg or \\.jpeg"
  grid --width 64 --height 64 --overlay ${out}/x.gif)
# bench/README.md's layout commands (bench/peers/run_peers.py runs the same).
quadflow_cli_file_test("bench README quadtree layout command" ${out}/bench_quadtree.json "7b227769647468223a20353132"
  "^\\{\"width\": 512, \"height\": 512, \"tiles\": \\["
  quadtree --image ${demo_image} --latent-scale 1 --min-tile 16 --overlap 8 --json ${out}/bench_quadtree.json)
quadflow_cli_test("bench README grid layout command" 0 "^\\{\"width\": 512, \"height\": 512, \"tiles\": \\["
  grid --width 512 --height 512 --latent-scale 1 --tile 96 --overlap 8)
