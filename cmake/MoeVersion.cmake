# Script mode (cmake -P): writes OUTPUT, a C++ header defining
# MOE_VERSION_STRING as `git describe` of SOURCE_DIR's checkout ("unknown"
# outside a git checkout). Rewritten only when the text changes, so a build
# that did not move the commit recompiles nothing.
execute_process(
  COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE version
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE failed
  ERROR_QUIET)
if(failed OR version STREQUAL "")
  set(version "unknown")
endif()
set(text "#define MOE_VERSION_STRING \"${version}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
