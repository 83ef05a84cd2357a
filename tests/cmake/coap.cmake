# SPDX-License-Identifier: Apache-2.0
# The CoAP endpoint: unit tests over a hand-built UDP client, the coap-client integration
# run, and the request-handling fuzz target.
if(TARGET eh_drv_coap)
  eh_unit_test(test_eh_coap SOURCES unit/test_eh_coap.c LIBS eh_drv_coap TIMEOUT 120)
  add_executable(test_eh_coap_serve unit/test_eh_coap_serve.c)
  target_link_libraries(test_eh_coap_serve PRIVATE eh_drv_coap eh_platform)
  if(NOT CMAKE_CROSSCOMPILING AND EH_PYTHON)
    find_program(EH_COAP_CLIENT NAMES coap-client coap-client-notls)
    if(EH_COAP_CLIENT)
      add_test(NAME test_coap_integration
        COMMAND ${EH_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_coap.py
                $<TARGET_FILE:test_eh_coap_serve> ${EH_COAP_CLIENT})
      set_tests_properties(test_coap_integration PROPERTIES LABELS integration TIMEOUT 180)
    endif()
  endif()
  # eh_fuzz_target() is defined after this file is included: call it at the end.
  cmake_language(DEFER CALL eh_fuzz_target fuzz_coap SOURCES fuzz/fuzz_coap.c
    LIBS eh_drv_coap CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/coap SECONDS 60)
endif()
