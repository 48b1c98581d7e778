# Installs the configured build tree BUILD_DIR into a fresh PREFIX and fails unless nothing was installed.
# -DBUILD_DIR=<build tree> -DPREFIX=<empty folder to install into>
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}" RESULT_VARIABLE code
  OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} failed (${code}): ${out}${err}")
endif()
file(GLOB_RECURSE installed "${PREFIX}/*")
if(installed)
  message(FATAL_ERROR "installed files: ${installed}")
endif()
message("installed nothing")
