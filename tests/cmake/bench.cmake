# SPDX-License-Identifier: Apache-2.0
# tests/bench: the benchmarks are run by tests/bench/run.sh, not by ctest; the
# end-to-end harness's system call split is checked here on fixed strace output.
if(EH_PYTHON AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME test_bench_e2e_strace
    COMMAND ${EH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/bench/test_bench_e2e.py)
  set_tests_properties(test_bench_e2e_strace PROPERTIES LABELS unit TIMEOUT 30)
endif()
