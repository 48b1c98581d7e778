# Runs one CLI command for ctest and checks its exit code and output.
# -DCOMMAND=<;-list> -DEXPECT_CODE=<int> -DEXPECT_REGEX=<regex matched against stdout+stderr>
# [-DEXPECT_LINES=<n>: the number of lines stderr must have]
string(REPLACE "|" ";" command "${COMMAND}")
execute_process(COMMAND ${command} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL EXPECT_CODE)
  message(FATAL_ERROR "exit code ${code}, expected ${EXPECT_CODE}\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match '${EXPECT_REGEX}'\nstdout: ${out}\nstderr: ${err}")
endif()
if(DEFINED EXPECT_LINES)
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines lines)
  if(NOT lines EQUAL EXPECT_LINES)
    message(FATAL_ERROR "stderr has ${lines} lines, expected ${EXPECT_LINES}: ${err}")
  endif()
endif()
