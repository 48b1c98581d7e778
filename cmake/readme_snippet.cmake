# Checks that README.md shows examples/minimal.cpp verbatim (so the README's example is the one that compiles).
file(READ ${SOURCE_DIR}/examples/minimal.cpp example)
file(READ ${SOURCE_DIR}/README.md readme)
string(FIND "${readme}" "${example}" found)
if(found EQUAL -1)
  message(FATAL_ERROR "README.md does not contain examples/minimal.cpp verbatim")
endif()
