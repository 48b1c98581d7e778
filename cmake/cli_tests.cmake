# CLI tests that run the quadflow program: exit codes, stdout and stderr apart, progress without a terminal, help,
# --version and the files it writes (cmake/run_cli.cmake). tests/test_cli.cpp runs the tool in-process for its JSON
# and its error messages.
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

set(QUADFLOW_TEST_IMAGES ${PROJECT_SOURCE_DIR}/tests/data)
set(QUADFLOW_CLI_OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/cli_test_output)
file(MAKE_DIRECTORY ${QUADFLOW_CLI_OUTPUT})
set(demo_image ${PROJECT_SOURCE_DIR}/apps/quadflow/data/astronaut.png)
set(out ${QUADFLOW_CLI_OUTPUT})
set(corner ${QUADFLOW_TEST_IMAGES}/corner_64.png)

# JSON on stdout, nothing else (golden value: tests/golden).
quadflow_cli_test("toy euler" 0 "^\\{\"x\": 0\\.204371[0-9]*\\}\n$" toy --sampler euler --steps 4)

# Bad input: exit code 2 and exactly the one line on stderr.
quadflow_cli_error_test("steps 0" "^error: --steps = 0: must be an integer in \\[1, 10000\\]\n$" schedule --steps 0)
quadflow_cli_error_test("schedule steps not a number" "^error: --steps = abc: must be an integer in \\[1, 10000\\]\n$"
  schedule --steps abc)
quadflow_cli_error_test("unknown command is named"
  "^error: unknown command 'frobnicate' \\(commands: schedule, noise, toy, quadtree, grid, img2img, upscale, demo\\)\n$" frobnicate)
quadflow_cli_error_test("noise seed above 2^64 - 1"
  "^error: --seed = 18446744073709551616: must be an integer in \\[0, 18446744073709551615\\]\n$"
  noise --seed 18446744073709551616 --shape 1,1,1,1)

# Progress on stderr without a terminal: plain lines, no '\r' redraws.
quadflow_cli_plain_progress_test("demo writes the contact sheet and report" "wrote .*contact_sheet"
  demo --out-dir ${CMAKE_CURRENT_BINARY_DIR}/demo --steps 6 --learned-steps 2)
quadflow_cli_plain_progress_test("img2img progress without a terminal is one plain line" "(^|\n)mask: 2/2 steps\n"
  img2img --image ${corner} --out ${out}/progress.png --steps 2)

quadflow_cli_test("help shows defaults" 0 "--steps INT=20 .*--min-strength,--min-denoise FLOAT=0[ \n].*--seed UINT64=42"
  img2img --help)
quadflow_cli_test("demo help shows the same defaults" 0 "--steps INT=20 .*--seed UINT64=42 .*--min-strength,--min-denoise FLOAT=0[ \n].*--max-strength,--max-denoise FLOAT=0\\.8"
  demo --help)
quadflow_cli_test("version" 0 "^${PROJECT_VERSION}\n$" --version)

# The files it writes, by their first bytes.
quadflow_cli_file_test("img2img --out .jpg writes a JPEG" ${out}/img2img.jpg "ffd8ff" "\"policy\": \"mask\""
  img2img --image ${corner} --out ${out}/img2img.jpg --steps 2)
quadflow_cli_file_test("img2img --out .png writes a PNG" ${out}/img2img.png "89504e47" "\"policy\": \"mask\""
  img2img --image ${corner} --out ${out}/img2img.png --steps 2)
quadflow_cli_file_test("quadtree --overlay .jpeg writes a JPEG" ${out}/overlay.jpeg "ffd8ff" "\"tiles\""
  quadtree --image ${corner} --overlay ${out}/overlay.jpeg)
quadflow_cli_file_test("grid --overlay writes a PNG" ${out}/grid_overlay.png "89504e47" "\"tiles\""
  grid --width 64 --height 64 --tile 4 --overlap 1 --image ${corner} --overlay ${out}/grid_overlay.png)
quadflow_cli_file_test("grid --overlay without --image" ${out}/grid_grey.png "89504e47" "\"tiles\""
  grid --width 1024 --height 512 --overlay ${out}/grid_grey.png)
# bench/README.md's layout command (bench/peers/run_peers.py runs the same).
quadflow_cli_file_test("bench README quadtree layout command" ${out}/bench_quadtree.json "7b227769647468223a20353132"
  "^\\{\"width\": 512, \"height\": 512, \"tiles\": \\["
  quadtree --image ${demo_image} --latent-scale 1 --min-tile 16 --overlap 8 --json ${out}/bench_quadtree.json)
