# SPDX-License-Identifier: Apache-2.0
# Cross-build for 64-bit ARM with Debian's gcc-aarch64-linux-gnu against the
# :arm64 multiarch -dev packages; ctest runs the binaries under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_STRIP aarch64-linux-gnu-strip)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Segments aligned for kernels with pages up to 16 KiB (Debian's arm64 kernel
# uses 4 KiB, the Raspberry Pi 5's 16 KiB). The linker's default, 64 KiB,
# pads the file by up to 60 KiB between code and data; a 64 KiB-page kernel
# needs -DEH_AARCH64_MAX_PAGE=65536.
set(EH_AARCH64_MAX_PAGE 16384 CACHE STRING "largest kernel page size the binaries load on")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-z,max-page-size=${EH_AARCH64_MAX_PAGE}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-z,max-page-size=${EH_AARCH64_MAX_PAGE}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Multiarch: headers are shared in /usr/include, libraries live in
# /usr/lib/aarch64-linux-gnu; pkg-config must look only there.
set(CMAKE_FIND_ROOT_PATH / /usr/aarch64-linux-gnu)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
# -L gives qemu the cross sysroot (its ld.so is libc6-arm64-cross). The :arm64
# multiarch packages bring a second glibc build in /usr/lib/aarch64-linux-gnu;
# a process that loads that libc with the cross ld.so hangs in
# pthread_create, so the cross libc is put first on the library path.
set(CMAKE_CROSSCOMPILING_EMULATOR
  qemu-aarch64;-L;/usr/aarch64-linux-gnu;-E;LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib:/usr/lib/aarch64-linux-gnu)
