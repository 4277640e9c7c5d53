# Cross-compiling pvtap for armhf (32-bit Raspberry Pi OS / Debian armhf,
# ARMv7: Pi 2/3/4/Zero 2 W) with Debian's arm-linux-gnueabihf cross compiler
# against a sysroot made by mmdebstrap (firmware/build-all: this machine's
# armhf multiarch index is broken, so no :armhf -dev packages beside amd64).
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=firmware/toolchain-armhf.cmake \
#         -DPVTAP_SYSROOT=/path/to/armhf-sysroot
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
set(PVTAP_TOOLCHAIN_DEB_ARCH armhf)

if(NOT PVTAP_SYSROOT)
    set(PVTAP_SYSROOT "$ENV{PVTAP_SYSROOT}")
endif()
if(NOT PVTAP_SYSROOT OR NOT EXISTS "${PVTAP_SYSROOT}/usr/lib/arm-linux-gnueabihf")
    message(FATAL_ERROR "toolchain-armhf: set PVTAP_SYSROOT to an armhf sysroot (firmware/build-all makes one)")
endif()
set(CMAKE_SYSROOT "${PVTAP_SYSROOT}")
# Passed on to try_compile projects.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES PVTAP_SYSROOT)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${PVTAP_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR} "${PVTAP_SYSROOT}/usr/lib/arm-linux-gnueabihf/pkgconfig:${PVTAP_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Tests, if built, run through qemu with the sysroot's loader and libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm;-L;${PVTAP_SYSROOT})
