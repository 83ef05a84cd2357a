# SPDX-License-Identifier: Apache-2.0
# The persistent queue and its block devices: unit tests, the power-cut
# driver, corruption and kill tests, the fuzz target and the benchmark.
eh_unit_test(test_eh_flash SOURCES unit/test_eh_flash.c LIBS eh_drv_storage eh_drv_flash_emu)
# Creating the queue file: all or nothing (a full tmpfs when root, a stop
# signal, a killed creation's leftover), start-timeout extension, size mismatch.
eh_unit_test(test_eh_flash_create SOURCES unit/test_eh_flash_create.c LIBS eh_drv_storage)
eh_unit_test(test_eh_queue SOURCES unit/test_eh_queue.c LIBS eh_queue eh_drv_flash_emu)

# Exhaustive single power cut: every device operation x every crash mode.
# Smaller under QEMU; `powercut --long` for the long run.
if(CMAKE_CROSSCOMPILING)
  set(EH_POWERCUT_STEPS 400)
else()
  set(EH_POWERCUT_STEPS 600)
endif()
eh_unit_test(powercut SOURCES powercut/powercut.c LIBS eh_queue eh_drv_flash_emu
  LABELS "unit;powercut" TIMEOUT 600 ARGS ${EH_POWERCUT_STEPS})
# Cumulative cuts: one every 3 operations of one long run, each recovered,
# checked and continued (crashes after recoveries, behind torn tails).
add_test(NAME powercut_linear COMMAND powercut 600 --linear 3)
set_tests_properties(powercut_linear PROPERTIES LABELS "unit;powercut" TIMEOUT 600)

# Records with valid CRCs and hostile fields (lengths, seqs, cursors).
eh_unit_test(test_eh_queue_hostile SOURCES unit/test_eh_queue_hostile.c
  LIBS eh_queue eh_drv_flash_emu)
eh_unit_test(test_eh_queue_corrupt SOURCES unit/test_eh_queue_corrupt.c
  LIBS eh_queue eh_drv_storage TIMEOUT 300)
eh_unit_test(test_eh_queue_kill SOURCES unit/test_eh_queue_kill.c
  LIBS eh_queue eh_drv_storage TIMEOUT 300)
eh_unit_test(test_eh_queue_ctl SOURCES unit/test_eh_queue_ctl.c ${PROJECT_SOURCE_DIR}/app/ctl/ctl_queue.c
  LIBS eh_queue eh_drv_storage)
target_include_directories(test_eh_queue_ctl PRIVATE ${PROJECT_SOURCE_DIR}/app/ctl)

# Mount a fuzzed image. eh_fuzz_target() is defined after this file is included.
cmake_language(DEFER CALL eh_fuzz_target fuzz_queue SOURCES fuzz/fuzz_queue.c
  LIBS eh_queue eh_drv_flash_emu CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/queue SECONDS 60)
# Structure-aware: records sealed with valid CRCs and hostile fields.
cmake_language(DEFER CALL eh_fuzz_target fuzz_queue_struct SOURCES fuzz/fuzz_queue_struct.c
  LIBS eh_queue eh_drv_flash_emu CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/fuzz_queue_struct
  SECONDS 60)
cmake_language(DEFER CALL eh_bench bench_queue SOURCES bench/bench_queue.c LIBS eh_queue eh_drv_storage)
if(CMAKE_CROSSCOMPILING)
  # under the emulator: fewer damaged files and kill rounds
  set_tests_properties(test_eh_queue_corrupt test_eh_queue_kill PROPERTIES ENVIRONMENT EH_QEMU=1)
endif()

# The group commit over the queue on the emulated device.
eh_unit_test(test_eh_commit SOURCES unit/test_eh_commit.c LIBS eh_commit eh_drv_flash_emu)

# The cache of the newest segment: reads counted on the emulated device.
eh_unit_test(test_eh_queue_cache SOURCES unit/test_eh_queue_cache.c LIBS eh_queue eh_drv_flash_emu)
