# SPDX-License-Identifier: Apache-2.0
# Command-line tools as processes: edgehookctl (version, --help on every
# subcommand, standard input, exit codes, check-config with the document
# type) and scripts/deps.sh (what each command installs).
if(TARGET edgehookctl AND EH_PYTHON)
  set(ctl_cmd "$<TARGET_FILE:edgehookctl>")
  if(CMAKE_CROSSCOMPILING)
    list(JOIN CMAKE_CROSSCOMPILING_EMULATOR "|" ctl_emu)
    set(ctl_cmd "${ctl_emu}|$<TARGET_FILE:edgehookctl>")
  endif()
  add_test(NAME test_edgehookctl_cli
    COMMAND ${EH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_edgehookctl.py ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_edgehookctl_cli PROPERTIES LABELS unit TIMEOUT 300
    ENVIRONMENT "EH_CTL=${ctl_cmd};ASAN_OPTIONS=detect_leaks=1")
endif()

# scripts/deps.sh groups: the demo installs only what it needs.
add_test(NAME deps_groups COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_deps.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(deps_groups PROPERTIES LABELS unit TIMEOUT 60)
