# Consumer tests: install quadflow into a prefix inside the build tree and build tests/consumer against it
# (find_package), once without CUDA and, when a CUDA compiler is found, once compiling a CUDA file too;
# and once through add_subdirectory, which installs nothing unless the parent asks (QUADFLOW_INSTALL).
set(consumer_prefix ${CMAKE_BINARY_DIR}/consumer/prefix)
set(consumer_source ${PROJECT_SOURCE_DIR}/tests/consumer)
if(QUADFLOW_INSTALL)
  add_test(NAME "consumer: install"
    COMMAND ${CMAKE_COMMAND} --install ${CMAKE_BINARY_DIR} --prefix ${consumer_prefix})
  set_tests_properties("consumer: install" PROPERTIES FIXTURES_SETUP quadflow_installed)
endif()

function(quadflow_consumer_test name)
  set(dir ${CMAKE_BINARY_DIR}/consumer/${name})
  add_test(NAME "consumer: ${name}"
    COMMAND ${CMAKE_COMMAND} -E env CMAKE_BUILD_PARALLEL_LEVEL=2
            ${CMAKE_CTEST_COMMAND} --build-and-test ${consumer_source} ${dir}
            --build-generator ${CMAKE_GENERATOR} --build-noclean
            --build-options -DCMAKE_PREFIX_PATH=${consumer_prefix} -DQUADFLOW_SOURCE_DIR=${PROJECT_SOURCE_DIR} ${ARGN}
            --test-command ${dir}/consumer)
  set_tests_properties("consumer: ${name}" PROPERTIES FIXTURES_REQUIRED quadflow_installed
    PASS_REGULAR_EXPRESSION "quadflow ${PROJECT_VERSION}: 5 sigmas" RUN_SERIAL ON)
endfunction()

if(QUADFLOW_INSTALL)
  quadflow_consumer_test("find_package")
endif()
quadflow_consumer_test("add_subdirectory" -DCONSUMER_USE_SUBDIRECTORY=ON)
set_tests_properties("consumer: add_subdirectory" PROPERTIES FIXTURES_SETUP quadflow_subdirectory_built)
add_test(NAME "consumer: add_subdirectory installs nothing"
  COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR}/consumer/add_subdirectory
          -DPREFIX=${CMAKE_BINARY_DIR}/consumer/add_subdirectory_prefix -P ${PROJECT_SOURCE_DIR}/cmake/installs_nothing.cmake)
set_tests_properties("consumer: add_subdirectory installs nothing" PROPERTIES
  FIXTURES_REQUIRED quadflow_subdirectory_built PASS_REGULAR_EXPRESSION "installed nothing")
if(QUADFLOW_CUDA_FOUND AND QUADFLOW_INSTALL)
  quadflow_consumer_test("find_package with CUDA" -DCONSUMER_WITH_CUDA=ON
    -DCMAKE_CUDA_COMPILER=${CMAKE_CUDA_COMPILER} "-DCMAKE_CUDA_ARCHITECTURES=${QUADFLOW_CUDA_ARCHITECTURES}")
endif()

# No CUDA probe where nothing CUDA is built: quadflow under add_subdirectory (OFF unless the parent asks), and an
# install-only configure of quadflow itself.
function(quadflow_configure_test name source)
  set(dir ${CMAKE_BINARY_DIR}/consumer/configure_${name})
  add_test(NAME "consumer: ${name} probes no CUDA"
    COMMAND ${CMAKE_COMMAND} -S ${source} -B ${dir} -G ${CMAKE_GENERATOR} ${ARGN})
  set_tests_properties("consumer: ${name} probes no CUDA" PROPERTIES
    PASS_REGULAR_EXPRESSION "quadflow: CUDA OFF" FAIL_REGULAR_EXPRESSION "Looking for a CUDA compiler")
endfunction()
quadflow_configure_test("add_subdirectory with examples" ${consumer_source} -DCONSUMER_USE_SUBDIRECTORY=ON
  -DQUADFLOW_BUILD_EXAMPLES=ON
  -DQUADFLOW_SOURCE_DIR=${PROJECT_SOURCE_DIR})
quadflow_configure_test("install-only configure" ${PROJECT_SOURCE_DIR} -DQUADFLOW_BUILD_TESTS=OFF
  -DQUADFLOW_BUILD_EXAMPLES=OFF -DQUADFLOW_BUILD_BENCHMARKS=OFF)
