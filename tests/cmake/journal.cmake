# SPDX-License-Identifier: Apache-2.0
# app/journal: the inbound journal on real files in /tmp (it maps them).
eh_unit_test(test_eh_journal SOURCES unit/test_eh_journal.c LIBS eh_journal)
# Replay of arbitrary images (raw, or built with valid CRCs and hostile fields).
cmake_language(DEFER CALL eh_fuzz_target fuzz_journal SOURCES fuzz/fuzz_journal.c
  LIBS eh_journal CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/journal SECONDS 60)
# Append cost, pwrite per entry against the mapping (tests/bench/run.sh journal).
cmake_language(DEFER CALL eh_bench bench_journal SOURCES bench/bench_journal.c LIBS eh_journal)
# A cut at every operation of the queue's device, the journal beside it:
# every journalled message is in the queue or in the journal.
eh_unit_test(powercut_journal SOURCES powercut/powercut_journal.c
  LIBS eh_journal eh_queue eh_drv_flash_emu LABELS "unit;powercut" TIMEOUT 600 ARGS 200)
