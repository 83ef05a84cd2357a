# SPDX-License-Identifier: Apache-2.0
# edgehookctl as a process: version, --help on every subcommand, standard
# input, the exit codes, check-config with the document type.
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
