# SPDX-License-Identifier: Apache-2.0
# drivers/mqtt: `selftest` needs no broker (runs under qemu too); the
# integration test starts a real mosquitto on a free loopback port and drives
# test_eh_mqtt against it (native only).
if(TARGET eh_drv_mqtt)
  eh_unit_test(test_eh_mqtt SOURCES unit/test_eh_mqtt.c LIBS eh_drv_mqtt ARGS selftest TIMEOUT 60)
  eh_unit_test(test_eh_mqtt_topic SOURCES unit/test_eh_mqtt_topic.c LIBS eh_drv_mqtt)
  # Paho loaded at open, by the uri (found through the loader's path: under QEMU the
  # emulator's -L names the aarch64 library directory).
  eh_unit_test(test_eh_mqtt_lib SOURCES unit/test_eh_mqtt_lib.c LIBS eh_drv_mqtt)
  find_program(EH_MOSQUITTO mosquitto PATHS /usr/sbin /usr/bin)
  if(NOT CMAKE_CROSSCOMPILING AND EH_MOSQUITTO AND EH_PYTHON)
    add_test(NAME test_mqtt_broker
      COMMAND ${EH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_mqtt.py
              --bin $<TARGET_FILE:test_eh_mqtt> --mosquitto ${EH_MOSQUITTO})
    set_tests_properties(test_mqtt_broker PROPERTIES LABELS integration TIMEOUT 180)
  endif()
endif()
# The library's own floor for bench_e2e: a bare Paho subscriber that discards,
# on the plain build the daemon loads for its tcp:// broker.
if(TARGET eh_lib_paho)
  find_package(Threads REQUIRED)
  cmake_language(DEFER CALL eh_bench bench_paho_sub SOURCES bench/bench_paho_sub.c
    LIBS eh_lib_paho Threads::Threads)
endif()
