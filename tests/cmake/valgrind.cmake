# SPDX-License-Identifier: Apache-2.0
# Memcheck over the unit tests: `ctest -L valgrind` runs each chosen unit test
# binary again as valgrind_<test> under valgrind (invalid reads and writes,
# uninitialised values, definite leaks: any of them fails the test). Native
# builds that are not Asan only: ASan and valgrind do not mix, and qemu-user
# cannot host valgrind. See docs/CHECKS.md.

# The unit tests worth a memcheck run; a name missing from this build is
# skipped. Override with -DEH_VALGRIND_TESTS="a;b".
if(NOT DEFINED EH_VALGRIND_TESTS)
  set(EH_VALGRIND_TESTS
    test_eh_platform test_eh_bootstrap test_eh_status test_eh_crypto test_eh_model
    test_eh_filter test_eh_filter_explain test_eh_render test_eh_flash
    test_eh_queue test_eh_queue_corrupt test_eh_queue_kill test_eh_queue_ctl
    test_eh_https test_eh_transport test_eh_delivery test_eh_coap test_eh_mqtt
    test_eh_config test_eh_config_signed test_style_heap)
endif()

find_program(EH_VALGRIND valgrind)

set(EH_VALGRIND_FLAGS --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite --track-origins=yes --trace-children=no --quiet
  --suppressions=${PROJECT_SOURCE_DIR}/tests/style/valgrind.supp)

# Arguments the plain runs take (add_test keeps no readable command line).
set(EH_VALGRIND_ARGS_test_eh_mqtt selftest)

# Valgrind runs 10-50x slower than native: the tests that scale with an
# environment knob get their small workload.
set(EH_VALGRIND_ENV_test_eh_queue_corrupt EH_QEMU=1)
set(EH_VALGRIND_ENV_test_eh_queue_kill EH_QEMU=1)
set(EH_VALGRIND_ENV_test_style_heap EH_QEMU=1)

function(eh_valgrind_tests)
  set(added)
  foreach(t ${EH_VALGRIND_TESTS})
    if(NOT TARGET ${t})
      continue()
    endif()
    add_test(NAME valgrind_${t}
      COMMAND ${EH_VALGRIND} ${EH_VALGRIND_FLAGS} $<TARGET_FILE:${t}> ${EH_VALGRIND_ARGS_${t}})
    set(env ${EH_VALGRIND_ENV_${t}})
    get_test_property(${t} ENVIRONMENT plain_env)
    if(plain_env)
      list(APPEND env ${plain_env})
    endif()
    set_tests_properties(valgrind_${t} PROPERTIES LABELS valgrind TIMEOUT 900)
    if(env)
      set_tests_properties(valgrind_${t} PROPERTIES ENVIRONMENT "${env}")
    endif()
    get_test_property(${t} WORKING_DIRECTORY wd)
    if(wd)
      set_tests_properties(valgrind_${t} PROPERTIES WORKING_DIRECTORY ${wd})
    endif()
    list(APPEND added ${t})
  endforeach()
  # The canary: the same flags must fail a definite leak and a jump on an
  # uninitialised value (valgrind exits 1; the canary itself exits 0), and
  # pass a clean run. Without these the passes above would prove nothing.
  add_executable(valgrind_canary ${PROJECT_SOURCE_DIR}/tests/style/valgrind_canary.c)
  target_link_libraries(valgrind_canary PRIVATE eh_warnings)
  foreach(mode ok leak uninit)
    if(mode STREQUAL "ok")
      set(want 0)
    else()
      set(want 1)
    endif()
    add_test(NAME valgrind_canary_${mode}
      COMMAND sh -c "\"$@\"; test $? -eq ${want}" sh ${EH_VALGRIND} ${EH_VALGRIND_FLAGS}
              $<TARGET_FILE:valgrind_canary> ${mode})
    set_tests_properties(valgrind_canary_${mode} PROPERTIES LABELS valgrind TIMEOUT 120)
  endforeach()

  list(LENGTH added n)
  message(STATUS "valgrind: ${n} unit tests also run under memcheck (ctest -L valgrind)")
endfunction()

if(EH_VALGRIND AND NOT CMAKE_CROSSCOMPILING AND NOT CMAKE_BUILD_TYPE STREQUAL "Asan"
    AND NOT EH_FUZZ)
  # Module test files are included in sorted order and some declare their
  # targets deferred: add ours after every one of them exists.
  cmake_language(DEFER CALL eh_valgrind_tests)
endif()
