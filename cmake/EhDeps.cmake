# SPDX-License-Identifier: Apache-2.0
# Imported targets for the libraries, found the same way natively and in
# the aarch64 sysroot (Debian multiarch). Paho and mbedTLS ship no pkg-config
# files in Debian 12, so they are found by header and library name.
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
# GNU libmicrohttpd: the HTTP listener (drivers/httpd).
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
if(EH_WITH_COAP)
  pkg_check_modules(COAP REQUIRED IMPORTED_TARGET libcoap-3-notls)
endif()

find_path(PAHO_INCLUDE_DIR MQTTAsync.h REQUIRED)
find_library(PAHO_MQTT3AS_LIB paho-mqtt3as REQUIRED)
# Paho's TLS build (on OpenSSL): the broker may be mqtts://. OpenSSL's
# libcrypto is also named directly, by drivers/mqtt only, to load the TLS
# files at --check-config as the library will at connect (docs/MQTT.md).
add_library(eh_lib_paho INTERFACE)
target_include_directories(eh_lib_paho INTERFACE ${PAHO_INCLUDE_DIR})
target_link_libraries(eh_lib_paho INTERFACE ${PAHO_MQTT3AS_LIB})
find_package(OpenSSL 1.1.1 REQUIRED COMPONENTS Crypto)

find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
add_library(eh_lib_mbedtls INTERFACE)
target_include_directories(eh_lib_mbedtls INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(eh_lib_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})
