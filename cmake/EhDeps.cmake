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
find_library(PAHO_MQTT3A_LIB paho-mqtt3a REQUIRED)
# drivers/mqtt loads Paho with dlopen(): the plain build (libpaho-mqtt3a) for
# tcp://, the TLS build (libpaho-mqtt3as, on OpenSSL) for mqtts://. The
# daemon and edgehookctl use its headers only (eh_lib_paho_headers), and
# OpenSSL's headers for the TLS files' check, which calls the OpenSSL the TLS
# build brings (docs/MQTT.md). eh_lib_paho links the plain build, for the
# bench's bare Paho subscriber.
add_library(eh_lib_paho_headers INTERFACE)
target_include_directories(eh_lib_paho_headers INTERFACE ${PAHO_INCLUDE_DIR})
add_library(eh_lib_paho INTERFACE)
target_link_libraries(eh_lib_paho INTERFACE eh_lib_paho_headers ${PAHO_MQTT3A_LIB})
find_package(OpenSSL 1.1.1 REQUIRED COMPONENTS Crypto)

find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h REQUIRED)
find_library(MBEDTLS_LIB mbedtls REQUIRED)
find_library(MBEDX509_LIB mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
add_library(eh_lib_mbedtls INTERFACE)
target_include_directories(eh_lib_mbedtls INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(eh_lib_mbedtls INTERFACE ${MBEDTLS_LIB} ${MBEDX509_LIB} ${MBEDCRYPTO_LIB})
