# SPDX-License-Identifier: Apache-2.0
# HTTPS delivery: transport seam, HTTP client and parser, webhook workers.
add_library(eh_fake_transport STATIC ${CMAKE_CURRENT_SOURCE_DIR}/fakes/eh_transport_fake.c)
target_include_directories(eh_fake_transport PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/fakes)
target_link_libraries(eh_fake_transport PUBLIC eh_drv_transport eh_platform)

eh_unit_test(test_eh_https SOURCES unit/test_eh_https.c LIBS eh_drv_https eh_fake_transport)
eh_unit_test(test_eh_delivery SOURCES unit/test_eh_delivery.c
  LIBS eh_delivery eh_fake_transport eh_drv_crypto)
target_compile_definitions(test_eh_delivery PRIVATE _GNU_SOURCE)

# Against a real TLS receiver (python3 + openssl): native builds only.
if(NOT CMAKE_CROSSCOMPILING AND EH_PYTHON)
  eh_unit_test(test_delivery_tls SOURCES integration/test_delivery_tls.c
    LIBS eh_delivery eh_drv_tls LABELS integration TIMEOUT 300)
  target_compile_definitions(test_delivery_tls PRIVATE
    EH_RECEIVER="${CMAKE_CURRENT_SOURCE_DIR}/integration/tls_receiver.py")
endif()

# eh_fuzz_target() and eh_bench() are defined after this file is included.
# The parser source is compiled into the fuzz binary itself so that libFuzzer
# instruments it (libraries are built without coverage instrumentation).
cmake_language(DEFER CALL eh_fuzz_target fuzz_http
  SOURCES fuzz/fuzz_http.c ${PROJECT_SOURCE_DIR}/drivers/https/eh_http_parse.c
  LIBS eh_drv_transport CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/http SECONDS 60)
cmake_language(DEFER CALL target_include_directories fuzz_http PRIVATE
  ${PROJECT_SOURCE_DIR}/drivers/https)
cmake_language(DEFER CALL eh_fuzz_target fuzz_http_client
  SOURCES fuzz/fuzz_http_client.c ${PROJECT_SOURCE_DIR}/drivers/https/eh_http_parse.c
  ${PROJECT_SOURCE_DIR}/drivers/https/eh_https.c ${CMAKE_CURRENT_SOURCE_DIR}/fakes/eh_transport_fake.c
  LIBS eh_drv_transport CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/http_client SECONDS 60)
cmake_language(DEFER CALL target_include_directories fuzz_http_client PRIVATE
  ${PROJECT_SOURCE_DIR}/drivers/https ${CMAKE_CURRENT_SOURCE_DIR}/fakes)
cmake_language(DEFER CALL eh_bench bench_delivery SOURCES bench/bench_delivery.c LIBS eh_delivery eh_drv_tls)

eh_unit_test(test_eh_transport SOURCES unit/test_eh_transport.c LIBS eh_drv_tls)
eh_unit_test(test_eh_resolve SOURCES unit/test_eh_resolve.c LIBS eh_drv_transport)
cmake_language(DEFER CALL eh_bench bench_resolve SOURCES bench/bench_resolve.c LIBS eh_platform)
eh_unit_test(test_eh_proxy SOURCES unit/test_eh_proxy.c LIBS eh_fake_transport)
cmake_language(DEFER CALL eh_fuzz_target fuzz_proxy
  SOURCES fuzz/fuzz_proxy.c ${PROJECT_SOURCE_DIR}/drivers/transport/eh_transport_proxy.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fakes/eh_transport_fake.c
  LIBS eh_platform CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/proxy SECONDS 60)
cmake_language(DEFER CALL target_include_directories fuzz_proxy PRIVATE
  ${PROJECT_SOURCE_DIR}/drivers/transport ${CMAKE_CURRENT_SOURCE_DIR}/fakes)
