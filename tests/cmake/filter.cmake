# SPDX-License-Identifier: Apache-2.0
# Filters: compile, match, explain; the differential test against an
# independent evaluator over cJSON; `edgehookctl explain`; fuzzing; bench.
eh_unit_test(test_eh_filter SOURCES unit/test_eh_filter.c LIBS eh_filter)
if(CMAKE_CROSSCOMPILING)
  set(EH_DIFF_CASES 20000) # the same seed, fewer cases under the emulator
else()
  set(EH_DIFF_CASES 100000)
endif()
eh_unit_test(test_eh_filter_diff SOURCES unit/test_eh_filter_diff.c
  LIBS eh_filter eh_json PkgConfig::CJSON
  ARGS match_agrees_with_reference ${EH_DIFF_CASES} TIMEOUT 300)
eh_unit_test(test_eh_filter_explain SOURCES unit/test_eh_filter_explain.c
  ${PROJECT_SOURCE_DIR}/app/ctl/ctl_explain.c LIBS eh_filter)
target_include_directories(test_eh_filter_explain PRIVATE ${PROJECT_SOURCE_DIR}/app/ctl)
eh_fuzz_target(fuzz_filter SOURCES fuzz/fuzz_filter.c LIBS eh_filter
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/filter SECONDS 60)
eh_bench(bench_filter SOURCES bench/bench_filter.c LIBS eh_filter eh_json PkgConfig::CJSON)
