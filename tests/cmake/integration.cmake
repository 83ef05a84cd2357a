# SPDX-License-Identifier: Apache-2.0
# Integration tests: real mosquitto, a real TLS receiver, the daemon as a
# process. In the aarch64 build the daemon runs under qemu-aarch64 while the
# broker and the receiver stay native.
if(TARGET edgehookd AND EH_PYTHON)
  set(eh_daemon "$<TARGET_FILE:edgehookd>")
  set(eh_ctl "$<TARGET_FILE:edgehookctl>")
  set(eh_slow 1)
  if(CMAKE_CROSSCOMPILING)
    list(JOIN CMAKE_CROSSCOMPILING_EMULATOR "|" emu)
    set(eh_daemon "${emu}|$<TARGET_FILE:edgehookd>")
    set(eh_ctl "${emu}|$<TARGET_FILE:edgehookctl>")
    set(eh_slow 3)
  endif()
  set(eh_env "EH_DAEMON=${eh_daemon}" "EH_CTL=${eh_ctl}" "EH_SLOW=${eh_slow}"
      "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0")
  # eh_integration(NAME script args... [TIMEOUT s] [LABELS l])
  function(eh_integration name)
    cmake_parse_arguments(I "" "TIMEOUT" "COMMAND;LABELS;ENV" ${ARGN})
    if(NOT I_TIMEOUT)
      set(I_TIMEOUT 300)
    endif()
    if(NOT I_LABELS)
      set(I_LABELS integration)
    endif()
    add_test(NAME ${name} COMMAND ${EH_PYTHON} ${I_COMMAND})
    set_tests_properties(${name} PROPERTIES LABELS "${I_LABELS}" TIMEOUT ${I_TIMEOUT}
      ENVIRONMENT "${eh_env};${I_ENV}" RUN_SERIAL TRUE)
  endfunction()
  set(e2e ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_e2e.py)
  eh_integration(e2e_filters COMMAND ${e2e} filters)
  eh_integration(e2e_retry COMMAND ${e2e} retry)
  eh_integration(e2e_full COMMAND ${e2e} full)
  eh_integration(e2e_robust COMMAND ${e2e} robust)
  eh_integration(e2e_lifecycle COMMAND ${e2e} lifecycle)
  eh_integration(e2e_config COMMAND ${e2e} config)
  find_program(EH_TINYPROXY tinyproxy)
  if(EH_TINYPROXY)
    eh_integration(e2e_egress COMMAND ${e2e} egress)
  endif()
  eh_integration(e2e_bootcheck COMMAND ${e2e} bootcheck)
  # The queue file: crafted records, a size change, a creation cut by ENOSPC.
  eh_integration(queue_file COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_queue_file.py)
  if(EH_WITH_COAP)
    eh_integration(e2e_coap COMMAND ${e2e} coap)
  endif()
  set(mtls ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_mqtt_tls.py)
  eh_integration(mqtt_tls_mtls COMMAND ${mtls} mtls)
  eh_integration(mqtt_tls_refused COMMAND ${mtls} refused)
  eh_integration(mqtt_tls_check COMMAND ${mtls} check)
  set(ctlmqtt ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_mqtt.py)
  eh_integration(ctl_mqtt_plain COMMAND ${ctlmqtt} plain)
  eh_integration(ctl_mqtt_signed COMMAND ${ctlmqtt} signed)
  eh_integration(ctl_mqtt_tls COMMAND ${ctlmqtt} tls)
  eh_integration(fleet_bridge COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_fleet.py bridge)
  set(faults ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_faults.py)
  eh_integration(faults_capacity COMMAND ${faults} capacity)
  eh_integration(faults_deadletter COMMAND ${faults} deadletter)
  eh_integration(faults_reconcile COMMAND ${faults} reconcile)
  eh_integration(faults_drain COMMAND ${faults} drain)
  eh_integration(faults_state COMMAND ${faults} state)
  eh_integration(faults_reload COMMAND ${faults} reload)
  eh_integration(faults_fairness COMMAND ${faults} fairness)
  eh_integration(faults_reload_mqtt COMMAND ${faults} reload_mqtt)
  if(CMAKE_CROSSCOMPILING)
    # Under QEMU the daemon is ~10x slower: a shorter soak keeps CI quick.
    eh_integration(e2e_soak COMMAND ${e2e} soak TIMEOUT 900 ENV "EH_SOAK_N=3000;EH_SOAK_KILLS=20")
  else()
    eh_integration(e2e_soak COMMAND ${e2e} soak TIMEOUT 900)
  endif()
  set(bounds ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_bounds.py)
  if(CMAKE_CROSSCOMPILING)
    eh_integration(bounds_poison COMMAND ${bounds} poison ENV "EH_HWM_MAX_KIB=0")
  else()
    eh_integration(bounds_poison COMMAND ${bounds} poison)
  endif()
  eh_integration(bounds_journal_full COMMAND ${bounds} journal_full TIMEOUT 600)
  eh_integration(bounds_journal_unreadable COMMAND ${bounds} journal_unreadable)
endif()

# The .deb for amd64 and arm64 (each built as it ships), lintian, and an
# install/upgrade/remove/purge in a Debian 12 chroot. It builds both
# architectures itself, so the cross build does not run it again.
if(TARGET edgehookd AND NOT CMAKE_CROSSCOMPILING)
  add_test(NAME package_and_unit COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_package.sh
    ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR} $<TARGET_FILE:edgehookd>)
  set_tests_properties(package_and_unit PROPERTIES LABELS integration TIMEOUT 1800 RUN_SERIAL TRUE)
endif()

# The README's first quick-start command, run as a newcomer would (it builds
# its own Release copy), stopping by itself after a few seconds.
if(NOT CMAKE_CROSSCOMPILING AND EH_PYTHON)
  add_test(NAME quickstart_demo COMMAND bash -c
    "EH_DEMO_SECONDS=2 bash '${PROJECT_SOURCE_DIR}/scripts/demo.sh' > '${CMAKE_BINARY_DIR}/demo.log' 2>&1 && grep -q '^batch .* from webhook 3' '${CMAKE_BINARY_DIR}/demo.log' && grep -q '\"state\":\"online\"' '${CMAKE_BINARY_DIR}/demo.log' && echo '1 passed, 0 failed' || { tail -30 '${CMAKE_BINARY_DIR}/demo.log'; echo '0 passed, 1 failed'; exit 1; }")
  set_tests_properties(quickstart_demo PROPERTIES LABELS integration TIMEOUT 600 RUN_SERIAL TRUE)
endif()

# A resolver that stalls: getaddrinfo for one name answers after 5 s
# (LD_PRELOAD into the daemon), for the resolver-stall test.
if(TARGET edgehookd AND EH_PYTHON)
  add_library(eh_slow_dns SHARED ${CMAKE_CURRENT_SOURCE_DIR}/integration/slow_dns.c)
  target_link_libraries(eh_slow_dns PRIVATE ${CMAKE_DL_LIBS})
  target_compile_options(eh_slow_dns PRIVATE -fno-sanitize=all)
  target_link_options(eh_slow_dns PRIVATE -fno-sanitize=all)
  eh_integration(resolver_stall COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_resolver.py
    ENV "EH_SLOW_DNS_LIB=$<TARGET_FILE:eh_slow_dns>")
endif()
