#!/usr/bin/env bash
# udev/60-pvtap.rules on fake adapters: umockdev builds a sysfs for an FTDI
# FT232R, a CH340 (no serial number), a CP2102 and the Pi's UART, and
# `udevadm test` runs our rules on each inside a private mount namespace
# (it writes /dev, /run/udev and sysfs attributes: there they land on
# tmpfs and in umockdev's fake sysfs). Checks the /dev/ttyRS485-* links, the
# nodes' group and mode, the FTDI latency_timer write and the mirror NIC's
# properties. Skips (77; fails under CI) without udevadm, umockdev or mount namespaces.
source "$(dirname "$0")/lib.sh"
: "${PVTAP_SRC:?}"
need_tool udevadm udev
need_tool umockdev-run umockdev
need_tool unshare util-linux
[ "$(id -u)" -eq 0 ] || skip_test "needs root for a mount namespace"
unshare -m true || skip_test "cannot make a mount namespace"
getent group dialout >/dev/null || skip_test "no dialout group"

# usb_dev KERNEL-PORT DRIVER VID PID SERIAL|- TTY PRODUCT [parents]: an umockdev
# record of a USB serial adapter (tty <- usb-serial <- interface <- device, and
# with "parents" the hub, root hub and controller they share).
usb_dev_raw() {
    local port=$1 drv=$2 vid=$3 pid=$4 serial=$5 tty=$6 product=$7
    local root=/devices/pci0000:00/0000:00:14.0/usb1 hub=/devices/pci0000:00/0000:00:14.0/usb1/1-1
    local dev=$hub/$port intf=$hub/$port/$port:1.0 n=${tty#ttyUSB}
    cat <<REC
P: $intf/$tty/tty/$tty
N: $tty
E: DEVNAME=/dev/$tty
E: MAJOR=188
E: MINOR=$n
E: SUBSYSTEM=tty
A: dev=188:$n

P: $intf/$tty
E: DRIVER=$drv
E: SUBSYSTEM=usb-serial
$( [ "$drv" = ftdi_sio ] && echo "A: latency_timer=16" || echo "#skip" )
A: port_number=0
L: driver=../../../../../../../bus/usb-serial/drivers/$drv

P: $intf
E: DEVTYPE=usb_interface
E: DRIVER=$drv
E: SUBSYSTEM=usb
E: PRODUCT=$vid/$pid/100
A: bInterfaceClass=ff
A: bInterfaceNumber=00
A: bInterfaceSubClass=00
A: bInterfaceProtocol=00
A: bNumEndpoints=03
L: driver=../../../../../../bus/usb/drivers/$drv

P: $dev
N: bus/usb/001/00${n}5
E: DEVNAME=/dev/bus/usb/001/00${n}5
E: DEVTYPE=usb_device
E: DRIVER=usb
E: MAJOR=189
E: MINOR=1${n}
E: SUBSYSTEM=usb
E: PRODUCT=$vid/$pid/100
A: bDeviceClass=00
A: bNumInterfaces= 1
A: bcdDevice=0100
A: busnum=1
A: devnum=${n}5
A: devpath=${port#1-}
A: idVendor=$vid
A: idProduct=$pid
A: product=$product
$( [ "$serial" != - ] && echo "A: serial=$serial" || echo "#skip" )
L: driver=../../../../../bus/usb/drivers/usb

REC
    [ "${8:-}" = parents ] || return 0
    cat <<REC
P: $hub
E: DEVTYPE=usb_device
E: DRIVER=usb
E: SUBSYSTEM=usb
A: idVendor=2109
A: idProduct=3431
A: busnum=1
A: devpath=1
L: driver=../../../../bus/usb/drivers/usb

P: $root
E: DEVTYPE=usb_device
E: DRIVER=usb
E: SUBSYSTEM=usb
A: idVendor=1d6b
A: idProduct=0002
A: busnum=1
A: devpath=0
L: driver=../../../bus/usb/drivers/usb

P: /devices/pci0000:00/0000:00:14.0
E: DRIVER=xhci_hcd
E: SUBSYSTEM=pci
L: driver=../../../bus/pci/drivers/xhci_hcd

REC
}
# (a blank line ends a device in the record format: optional lines are dropped, not left empty)
usb_dev() { usb_dev_raw "$@" | sed '/^#skip$/d'; }
usb_dev 1-1.3 ftdi_sio 0403 6001 A10KXYZ1 ttyUSB0 "FT232R USB UART" parents >"$TMP/ftdi.umockdev"
usb_dev 1-1.2 ch341 1a86 7523 - ttyUSB1 "USB Serial" >"$TMP/ch340.umockdev"
usb_dev 1-1.4 cp210x 10c4 ea60 0001 ttyUSB2 "CP2102 USB to UART Bridge Controller" >"$TMP/cp2102.umockdev"
cat >"$TMP/uart.umockdev" <<'REC'
P: /devices/platform/soc/fe201000.serial/tty/ttyAMA0
N: ttyAMA0
E: DEVNAME=/dev/ttyAMA0
E: MAJOR=204
E: MINOR=64
E: SUBSYSTEM=tty
A: dev=204:64

P: /devices/platform/soc/fe201000.serial
E: DRIVER=uart-pl011
E: SUBSYSTEM=amba
L: driver=../../../../bus/amba/drivers/uart-pl011

REC
cat >"$TMP/eth.umockdev" <<'REC'
P: /devices/platform/scb/fd580000.ethernet/net/eth0
E: INTERFACE=eth0
E: IFINDEX=2
E: SUBSYSTEM=net
A: address=dc:a6:32:00:00:01
A: ifindex=2
A: type=1

P: /devices/platform/scb/fd580000.ethernet
E: DRIVER=bcmgenet
E: SUBSYSTEM=platform
L: driver=../../../../bus/platform/drivers/bcmgenet

REC
cat >"$TMP/wlan.umockdev" <<'REC'
P: /devices/platform/soc/fe300000.mmcnr/mmc_host/mmc1/mmc1:0001/mmc1:0001:1/net/wlan0
E: INTERFACE=wlan0
E: IFINDEX=3
E: DEVTYPE=wlan
E: SUBSYSTEM=net
A: address=dc:a6:32:00:00:02
A: ifindex=3
A: type=1

P: /devices/platform/soc/fe300000.mmcnr
E: SUBSYSTEM=platform

REC

# Runs inside the namespace: our rules only, a tmpfs /dev with the nodes,
# a tmpfs /run; then udevadm test on each device.
cat >"$TMP/inside.sh" <<'INSIDE'
set -eu
T=$1 SRC=$2
mount --make-rprivate /
mkdir -p "$T/realdev" "$T/rules"
cp "$SRC/udev/60-pvtap.rules" "$T/rules/"
# The mirror NIC enabled as the image (or the user) does it: the shipped
# 59-pvtap-mirror.rules uncommented, in /etc/udev/rules.d.
sed 's/^#MIRROR# //' "$SRC/udev/59-pvtap-mirror.rules" >"$T/etc-59-pvtap-mirror.rules"
cp "$SRC/udev/59-pvtap-mirror.rules" "$T/rules/"
mount --bind /dev "$T/realdev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero full random urandom tty; do touch "/dev/$n"; mount --bind "$T/realdev/$n" "/dev/$n"; done
# umockdev backs fake ttys with ptys: a devpts of our own.
mkdir /dev/pts && mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs tmpfs /run
mount --bind "$T/rules" /usr/lib/udev/rules.d
mount -t tmpfs tmpfs /etc/udev/rules.d
# First, the package as shipped: it must mark no interface.
umockdev-run -d "$T/eth.umockdev" -- udevadm test --action=add /sys/class/net/eth0 >"$T/shipped-eth0.out" 2>&1
cp "$T/etc-59-pvtap-mirror.rules" /etc/udev/rules.d/59-pvtap-mirror.rules
devs="-d $T/ftdi.umockdev -d $T/ch340.umockdev -d $T/cp2102.umockdev -d $T/uart.umockdev -d $T/eth.umockdev -d $T/wlan.umockdev"
umockdev-run $devs -- sh -c '
    T=$1
    for d in /sys/class/tty/ttyUSB0 /sys/class/tty/ttyUSB1 /sys/class/tty/ttyUSB2 /sys/class/tty/ttyAMA0 \
             /sys/bus/usb-serial/devices/ttyUSB0 /sys/bus/usb-serial/devices/ttyUSB1 \
             /sys/class/net/eth0 /sys/class/net/wlan0; do
        name=$(echo "$d" | tr / _)
        udevadm test --action=add "$d" >"$T/test$name.out" 2>&1 || echo "udevadm test $d failed" >&2
    done
' sh "$T"
INSIDE
rc=0
unshare -m bash "$TMP/inside.sh" "$TMP" "$PVTAP_SRC" >"$TMP/inside.out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
    not_ok "udevadm test in a namespace (exit $rc)"; sed 's/^/  | /' "$TMP/inside.out" | tail -20
    finish; exit 1
fi
# The links udev would make: its DEVLINKS property, one line per link and device
# ("/dev/ttyRS485-0 -> ttyUSB0"). (The nodes are umockdev's, so udevadm test
# skips making the links themselves: "Device node ... is missing".)
for n in ttyUSB0 ttyUSB1 ttyUSB2 ttyAMA0; do
    sed -n 's/^DEVLINKS=//p' "$TMP/test_sys_class_tty_$n.out" | tr ' ' '\n' | sed -n "s|^\(/dev/ttyRS485-.*\)|\1 -> $n|p"
done >"$TMP/links"
sed 's/^/# /' "$TMP/links"

expect_grep "$TMP/links" '^/dev/ttyRS485-ftdi-A10KXYZ1 -> ttyUSB0$' "FTDI: by-serial name"
expect_grep "$TMP/links" '^/dev/ttyRS485-usb-1-1\.3 -> ttyUSB0$' "FTDI: by-port name"
expect_grep "$TMP/links" '^/dev/ttyRS485-0 -> ttyUSB0$' "FTDI: numbered name"
expect_grep "$TMP/links" '^/dev/ttyRS485-usb-1-1\.2 -> ttyUSB1$' "CH340 (no serial): by-port name"
expect_no_grep "$TMP/links" '^/dev/ttyRS485-ch340-' "CH340 (no serial): no by-serial name"
expect_grep "$TMP/links" '^/dev/ttyRS485-1 -> ttyUSB1$' "CH340: numbered name"
expect_grep "$TMP/links" '^/dev/ttyRS485-cp210x-0001 -> ttyUSB2$' "CP2102: by-serial name"
expect_grep "$TMP/links" '^/dev/ttyRS485-usb-1-1\.4 -> ttyUSB2$' "CP2102: by-port name"
expect_grep "$TMP/links" '^/dev/ttyRS485-uart -> ttyAMA0$' "Pi UART: ttyRS485-uart"
# umockdev's device nodes are its own (ptys): the owner and mode udev sets
# are read from udevadm test's trace of our rules.
dialout=$(getent group dialout | cut -d: -f3)
for n in ttyUSB0 ttyUSB1 ttyUSB2 ttyAMA0; do
    out=$TMP/test_sys_class_tty_$n.out
    expect_grep "$out" "60-pvtap\.rules:[0-9]+ GROUP $dialout\$" "$n: group dialout"
    expect_grep "$out" "60-pvtap\.rules:[0-9]+ MODE 0660\$" "$n: mode 0660"
done
# (systemd 252's udevadm test logs the write but umockdev's sysfs file is not
# changed by it: the trace is what is checked.)
expect_grep "$TMP/test_sys_bus_usb-serial_devices_ttyUSB0.out" \
    "60-pvtap\.rules:[0-9]+ ATTR '/sys/devices/.*/1-1\.3:1\.0/ttyUSB0/latency_timer' writing '1'" \
    "FTDI: latency_timer set to 1"
expect_no_grep "$TMP/test_sys_bus_usb-serial_devices_ttyUSB1.out" "latency_timer" "no latency_timer for a CH340"
expect_no_grep "$TMP/shipped-eth0.out" 'PVTAP_MIRROR|pvtap-mirror-up' "as shipped, no interface is made the mirror"
expect_grep "$TMP/shipped-eth0.out" '59-pvtap-mirror.rules' "(the shipped 59-pvtap-mirror.rules was read)"
eth=$TMP/test_sys_class_net_eth0.out
expect_grep "$eth" '^PVTAP_MIRROR=1$' "eth0 marked as the mirror NIC"
expect_grep "$eth" '^NM_UNMANAGED=1$' "mirror NIC left alone by NetworkManager"
expect_grep "$eth" "^run: '/usr/libexec/pvtap/pvtap-mirror-up eth0'\$" "mirror NIC brought up by pvtap-mirror-up"
wlan=$TMP/test_sys_class_net_wlan0.out
expect_no_grep "$wlan" '^PVTAP_MIRROR=' "wlan0 is not the mirror"
expect_no_grep "$wlan" 'pvtap-mirror-up' "wlan0 is not touched"
# Nothing in the rules files is reported as invalid.
expect_no_grep "$TMP/inside.out" '.' "udevadm test printed no failure"
cat "$TMP"/test_*.out >"$TMP/all.out"
expect_no_grep "$TMP/all.out" 'pvtap.*rules:[0-9]+ (Invalid|Unknown|Failed)|rules:[0-9]+: .*(invalid|unknown)' "no rule parse errors"
finish
