# SPDX-License-Identifier: Apache-2.0
# Notifications (parse, ids, render) and the JSON scanner under them.
eh_unit_test(test_eh_model SOURCES unit/test_eh_model.c LIBS eh_model PkgConfig::CJSON)
eh_unit_test(test_eh_render SOURCES unit/test_eh_render.c LIBS eh_model)
eh_fuzz_target(fuzz_note SOURCES fuzz/fuzz_note.c LIBS eh_filter eh_model
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/note SECONDS 60)
cmake_language(DEFER CALL eh_bench bench_render SOURCES bench/bench_render.c LIBS eh_model)
