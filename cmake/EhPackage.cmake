# SPDX-License-Identifier: Apache-2.0
# Debian packages with CPack: `cpack -G DEB` in a build directory gives
# edgehook_<version>_<arch>.deb (amd64 natively, arm64 in the cross build):
# the two binaries, the systemd unit, the example configuration, and a
# postinst that creates the edgehook system user (its state directory is
# made by systemd's StateDirectory=).
include(GNUInstallDirs)
install(FILES ${PROJECT_SOURCE_DIR}/config/edgehookd.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/config/edgehookd.conf.example
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/edgehook/examples)
install(FILES ${PROJECT_SOURCE_DIR}/config/edgehookd.conf.example
  DESTINATION /etc/edgehook RENAME edgehookd.json)
file(GLOB eh_example_hooks ${PROJECT_SOURCE_DIR}/config/webhook-*.json)
install(FILES ${eh_example_hooks} DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/edgehook/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/edgehook)
if(EXISTS ${PROJECT_SOURCE_DIR}/docs/OPERATING.md)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/OPERATING.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/edgehook)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edgehook)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "edgehook maintainers <maintainers@edgehook.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MQTT to HTTPS webhook gateway with a crash-safe flash queue")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libc6, libpaho-mqtt1.3, libmbedtls14, libmbedx509-1, libmbedcrypto7, libcjson1, libcoap3, libmicrohttpd12, adduser")
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/config/debian/postinst ${PROJECT_SOURCE_DIR}/config/debian/conffiles)
set(CPACK_STRIP_FILES ON)
include(CPack)
