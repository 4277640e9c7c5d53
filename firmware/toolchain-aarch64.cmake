# Cross-compiling pvtap for arm64 (Raspberry Pi 3/4/5, Zero 2 W, 64-bit OS)
# with Debian's cross toolchain and multiarch :arm64 -dev packages
# (firmware/packages-arm64.txt). Tests run under qemu-user.
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=firmware/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(PVTAP_TOOLCHAIN_DEB_ARCH arm64)

# The target's libraries live in the host's multiarch folders: never look in
# the host's own (x86-64) pkg-config folders.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
set(PKG_CONFIG_EXECUTABLE pkg-config CACHE FILEPATH "pkg-config (PKG_CONFIG_LIBDIR points it at arm64)")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr)

# ctest runs test programs through qemu-user. No -L: the :arm64 -dev packages
# bring libc6:arm64, whose loader is at /lib/ld-linux-aarch64.so.1, so every
# library comes from one multiarch tree. (-L /usr/aarch64-linux-gnu mixes the
# cross libc with the multiarch libraries: threaded tests hang in qemu.)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
