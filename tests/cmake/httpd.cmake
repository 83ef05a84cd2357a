# SPDX-License-Identifier: Apache-2.0
# The HTTP listener: routing, token check and error bodies (ours, no library) as unit
# tests and a fuzz target; the backend alone on 127.0.0.1; the listener through the daemon
# in tests/integration.
if(TARGET eh_drv_httpd_route)
  eh_unit_test(test_eh_httpd SOURCES unit/test_eh_httpd.c LIBS eh_drv_httpd_route)
  cmake_language(DEFER CALL eh_fuzz_target fuzz_httpd SOURCES fuzz/fuzz_httpd.c
    LIBS eh_drv_httpd_route CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/httpd SECONDS 30)
endif()
# The backend itself, with libmicrohttpd loaded at open (found through the loader's path:
# under QEMU the emulator's LD_LIBRARY_PATH names the aarch64 library directory).
if(TARGET eh_drv_httpd)
  eh_unit_test(test_eh_httpd_mhd SOURCES unit/test_eh_httpd_mhd.c LIBS eh_drv_httpd)
endif()
# eh_integration() is defined by integration.cmake, included after this file: defer.
if(TARGET edgehookd AND EH_PYTHON)
  set(eh_http_py ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_http.py)
  # (Arguments of a deferred call are expanded when it runs: no loop variable here.)
  cmake_language(DEFER CALL eh_integration http_ingest COMMAND ${eh_http_py} ingest)
  cmake_language(DEFER CALL eh_integration http_full COMMAND ${eh_http_py} full)
  cmake_language(DEFER CALL eh_integration http_metrics COMMAND ${eh_http_py} metrics)
  cmake_language(DEFER CALL eh_integration http_kill COMMAND ${eh_http_py} kill TIMEOUT 600)
endif()
