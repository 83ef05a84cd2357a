# SPDX-License-Identifier: Apache-2.0
# Debian packages with CPack: `cpack -G DEB` in a build directory gives
# edgehook_<version>_<arch>.deb (amd64 natively, arm64 in the cross build):
# the two binaries with their man pages, the systemd unit, the example
# configuration, and maintainer scripts that create the edgehook system
# user, enable and start the unit (restart on upgrade), stop it on remove,
# and on purge delete the user and /var/lib/edgehook (the queue and the
# stored config messages, webhook secrets included). Depends comes from
# dpkg-shlibdeps plus what the scripts and the default CA file need.
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
install(FILES ${PROJECT_SOURCE_DIR}/config/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/edgehook)

# Man pages and the changelog, gzipped as Debian wants them (-n: no name or
# time stamp, so the bytes depend on the text only).
find_program(EH_GZIP gzip REQUIRED)
configure_file(${PROJECT_SOURCE_DIR}/config/debian/changelog.in ${CMAKE_BINARY_DIR}/pkg/changelog @ONLY)
set(eh_pkg_gz)
foreach(src docs/man/edgehookd.8 docs/man/edgehookctl.1 BUILD:pkg/changelog)
  if(src MATCHES "^BUILD:(.*)")
    set(in ${CMAKE_BINARY_DIR}/${CMAKE_MATCH_1})
  else()
    set(in ${PROJECT_SOURCE_DIR}/${src})
  endif()
  get_filename_component(name ${in} NAME)
  set(out ${CMAKE_BINARY_DIR}/pkg/${name}.gz)
  add_custom_command(OUTPUT ${out} COMMAND ${EH_GZIP} -9n -c ${in} > ${out} DEPENDS ${in} VERBATIM)
  list(APPEND eh_pkg_gz ${out})
endforeach()
add_custom_target(eh_pkg_files ALL DEPENDS ${eh_pkg_gz})
install(FILES ${CMAKE_BINARY_DIR}/pkg/edgehookd.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_BINARY_DIR}/pkg/edgehookctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_BINARY_DIR}/pkg/changelog.gz DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/edgehook)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edgehook)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "edgehook maintainers <maintainers@edgehook.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MQTT to HTTPS webhook gateway with a crash-safe flash queue")
set(CPACK_PACKAGE_DESCRIPTION "edgehookd takes face-recognition notifications (events, episodes, counter
records) from an MQTT broker, filters them per webhook with FindFace
Security's webhook semantics, keeps them in a ring-buffer queue on flash
that survives power cuts, and delivers batches over HTTPS with retries.
Webhooks are configured through retained MQTT topics. edgehookctl checks
configuration, explains filter decisions and inspects the queue.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library versions from dpkg-shlibdeps; adduser and init-system-helpers for
# the maintainer scripts; ca-certificates for the default tls.ca_file.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(CMAKE_CROSSCOMPILING)
  # dpkg-shlibdeps finds the :arm64 libraries through dpkg's database; it
  # needs the target's multiarch directory to look in.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
endif()
# Paho MQTT C is loaded with dlopen() (drivers/mqtt: the plain build for
# tcp://, the TLS build for mqtts://, both in libpaho-mqtt1.3), so
# dpkg-shlibdeps does not see it: named here, a hard dependency. Its Depends
# bring OpenSSL for the TLS build.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "adduser, ca-certificates, init-system-helpers (>= 1.54~), libpaho-mqtt1.3 (>= 1.3.0)")
# libmicrohttpd is loaded with dlopen() only when the HTTP listener is enabled
# (drivers/httpd): dpkg-shlibdeps no longer sees it, and a box without the
# listener runs without it. Recommended, so a default install has it.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mosquitto-clients, libmicrohttpd12 (>= 0.9.75)")
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/config/debian/postinst ${PROJECT_SOURCE_DIR}/config/debian/prerm
  ${PROJECT_SOURCE_DIR}/config/debian/postrm ${PROJECT_SOURCE_DIR}/config/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
