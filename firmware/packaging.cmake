# Install rules and the Debian package (CPack DEB) for pvtap: the binary, the
# systemd unit, udev rules, the mirror NIC's networkd file and helper, board
# files, the default config (a conffile), the man page and the user docs.
# Included from the top CMakeLists.txt. `cpack -G DEB` in a build directory
# (or `cmake --build build --target package`) makes pvtap_<ver>-<rel>_<arch>.deb.
#
# System paths are absolute (they do not move with CMAKE_INSTALL_PREFIX, which
# the package sets to /usr): /lib/systemd/system, /lib/udev/rules.d, /etc/pvtap.

set(PVTAP_DEB_RELEASE "1" CACHE STRING "Debian revision of the package (e.g. 1~deb12, 1+rpi13)")
set(PVTAP_DEB_ARCH "" CACHE STRING "Debian architecture (default: dpkg --print-architecture, or the toolchain's)")
set(PVTAP_SYSTEM_LIBDIR "/lib" CACHE STRING "where unit, udev rules and .network go (/lib or /usr/lib)")

set(_fw ${CMAKE_SOURCE_DIR}/firmware)
set(_udev ${CMAKE_SOURCE_DIR}/udev)

# The man page, compressed as Debian wants it (reproducibly: gzip -n).
find_program(PVTAP_GZIP gzip)
if(PVTAP_GZIP)
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/pvtap.1.gz
        COMMAND ${PVTAP_GZIP} -9nc ${_fw}/pvtap.1 > ${CMAKE_BINARY_DIR}/pvtap.1.gz
        DEPENDS ${_fw}/pvtap.1 VERBATIM)
    add_custom_target(pvtap-man ALL DEPENDS ${CMAKE_BINARY_DIR}/pvtap.1.gz)
    install(FILES ${CMAKE_BINARY_DIR}/pvtap.1.gz DESTINATION share/man/man1)
else()
    install(FILES ${_fw}/pvtap.1 DESTINATION share/man/man1)
endif()

install(FILES ${_fw}/pvtap.service DESTINATION ${PVTAP_SYSTEM_LIBDIR}/systemd/system)
install(FILES ${_udev}/59-pvtap-mirror.rules ${_udev}/60-pvtap.rules
        DESTINATION ${PVTAP_SYSTEM_LIBDIR}/udev/rules.d)
install(FILES ${_udev}/50-pvtap-mirror.network DESTINATION ${PVTAP_SYSTEM_LIBDIR}/systemd/network)
install(PROGRAMS ${_udev}/pvtap-mirror-up DESTINATION libexec/pvtap)
install(FILES ${_fw}/pvtap.conf DESTINATION /etc/pvtap)
if(EXISTS ${CMAKE_SOURCE_DIR}/README.md)
    install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/pvtap)
endif()

# --- CPack: one .deb ---
if(NOT PVTAP_DEB_ARCH)
    if(CMAKE_CROSSCOMPILING AND PVTAP_TOOLCHAIN_DEB_ARCH)
        set(PVTAP_DEB_ARCH ${PVTAP_TOOLCHAIN_DEB_ARCH})
    else()
        execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE PVTAP_DEB_ARCH
                        OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    endif()
endif()

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "pvtap")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "pvtap maintainers <pvtap@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "SunPower solar site gateway (sniff, poll, PVOutput, MQTT)")
set(CPACK_PACKAGE_DESCRIPTION
    "pvtap overhears a SunPower PV Supervisor's uploads on a switch mirror port, polls or listens to the WattNode meter and inverters on RS-485, folds both into 5-minute energy intervals (SQLite) and feeds PVOutput, MQTT and a web page.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${PVTAP_DEB_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "${PVTAP_DEB_ARCH}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Libraries from dpkg-shlibdeps (finds the right sonames: libconfig9 on
# Debian 12, libconfig11 on 13); the rest is what the scripts and helper run.
# A cross build against a sysroot (armhf) cannot run dpkg-shlibdeps against
# the host's dpkg database: there PVTAP_DEB_DEPENDS gives the library list.
set(PVTAP_DEB_DEPENDS "" CACHE STRING "library Depends instead of dpkg-shlibdeps (sysroot builds)")
if(PVTAP_DEB_DEPENDS)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
    set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, iproute2, ${PVTAP_DEB_DEPENDS}")
else()
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
    set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, iproute2")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ethtool, udev, systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_fw}/deb/conffiles;${_fw}/deb/postinst;${_fw}/deb/prerm;${_fw}/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
