#!/usr/bin/env bash
# The mirror NIC never transmits: udev/pvtap-mirror-up (what 60-pvtap.rules
# runs for it on the Pi) on one end of a veth pair in a private network
# namespace; traffic that would draw an answer (ARP requests, pings, IPv6
# router advertisements' multicast) is sent into it from the other end for a
# few seconds, and its tx_packets must stay 0. Skips (77) without root or
# network namespaces.
source "$(dirname "$0")/lib.sh"
: "${PVTAP_SRC:?}"
need_tool ip iproute2
[ "$(id -u)" -eq 0 ] || skip_test "needs root for network namespaces"
ns=pvtap-mirror-$$
ip netns add "$ns" || skip_test "cannot create a network namespace"
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$TMP"' EXIT
nsx() { ip netns exec "$ns" "$@"; }

nsx ip link set lo up
nsx ip link add mirror0 type veth peer name feed0 || { not_ok "veth pair"; finish; exit 1; }
# The feed end talks IPv4 and IPv6 as a switch port would (the mirror copies
# everyone's traffic to us, broadcasts included).
nsx ip addr add 192.0.2.1/24 dev feed0
nsx ip link set feed0 up

expect_rc 0 "pvtap-mirror-up mirror0" -- nsx sh "$PVTAP_SRC/udev/pvtap-mirror-up" mirror0
nsx ip -d link show mirror0 >"$TMP/link"
expect_grep "$TMP/link" 'state UP|LOWER_UP|,UP' "mirror0 is up"
expect_grep "$TMP/link" 'NOARP' "ARP off"
expect_grep "$TMP/link" 'PROMISC' "promiscuous"
nsx ip addr show dev mirror0 >"$TMP/addr"
expect_no_grep "$TMP/addr" 'inet6? ' "no IPv4 or IPv6 address"
expect_grep <(nsx cat /proc/sys/net/ipv6/conf/mirror0/disable_ipv6 2>/dev/null || echo 1) '^1$' "IPv6 disabled on mirror0"
if PATH=$PATH:/usr/sbin:/sbin command -v ethtool >/dev/null; then
    nsx ethtool -k mirror0 >"$TMP/features" 2>&1 || true
    expect_grep "$TMP/features" '^generic-receive-offload: off' "GRO off"
else
    skip_part "GRO check: ethtool missing (apt-get install ethtool)" || not_ok "GRO off: ethtool missing"
fi

tx() { nsx cat "/sys/class/net/$1/statistics/tx_packets"; }
rx() { nsx cat "/sys/class/net/$1/statistics/rx_packets"; }
# A control: a veth end brought up the ordinary way, beside it. It does
# transmit (IPv6 DAD, router and MLD solicitations): the count can move.
nsx ip link add control0 type veth peer name cfeed0
nsx ip link set cfeed0 up
nsx ip link set control0 up
before=$(tx mirror0)
# Provoke both for about 4 s (IPv6 solicitations go out within 1-4 s of
# link up): ARP who-has, an IPv4 echo request, an IPv6 echo request to all
# nodes, as raw frames from the feed ends (no ping on a minimal system).
cat >"$TMP/feed.py" <<'PY'
import socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def frames(src_mac, dst_mac):
    bc = b"\xff" * 6
    arp = bc + src_mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src_mac \
        + socket.inet_aton("192.0.2.1") + b"\0" * 6 + socket.inet_aton("192.0.2.2")
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"pvtap"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0,
                     socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2"))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    ipv4 = dst_mac + src_mac + b"\x08\x00" + ip + icmp
    src6, dst6 = socket.inet_pton(socket.AF_INET6, "fe80::1"), socket.inet_pton(socket.AF_INET6, "ff02::1")
    e6 = struct.pack("!BBHHH", 128, 0, 0, 1, 1) + b"pvtap"
    pseudo = src6 + dst6 + struct.pack("!IxxxB", len(e6), 58)
    e6 = e6[:2] + struct.pack("!H", csum(pseudo + e6)) + e6[4:]
    ipv6 = b"\x33\x33\x00\x00\x00\x01" + src_mac + b"\x86\xdd" \
        + struct.pack("!IHBB", 0x60000000, len(e6), 58, 255) + src6 + dst6 + e6
    return [arp, ipv4, ipv6]
socks = []
for feed, target in zip(sys.argv[1::2], sys.argv[2::2]):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((feed, 0))
    mac = lambda i: bytes.fromhex(open("/sys/class/net/%s/address" % i).read().strip().replace(":", ""))
    socks.append((s, frames(mac(feed), mac(target))))
end = time.time() + 4
while time.time() < end:
    for s, fs in socks:
        for f in fs:
            s.send(f)
    time.sleep(0.2)
PY
expect_rc 0 "feed traffic sent for 4 s" -- nsx /usr/bin/python3 "$TMP/feed.py" feed0 mirror0 cfeed0 control0
sleep 1
after=$(tx mirror0)
echo "# mirror0: rx_packets $(rx mirror0), tx_packets $before -> $after; control0: rx $(rx control0), tx $(tx control0)"
[ "$(rx mirror0)" -gt 20 ] && ok "mirror0 received the feed's packets" || not_ok "mirror0 received (almost) nothing: the test proves nothing"
[ "$(tx control0)" -gt 0 ] && ok "control: an ordinary interface does transmit" || not_ok "control0 sent nothing either: the test proves nothing"
[ "$after" -eq 0 ] && ok "mirror0 transmitted nothing (tx_packets 0)" || not_ok "mirror0 transmitted $after packets"

# The script refuses nonsense names and missing interfaces.
expect_rc 2 "bad interface name refused" -- nsx sh "$PVTAP_SRC/udev/pvtap-mirror-up" ../x
expect_rc 1 "missing interface refused" -- nsx sh "$PVTAP_SRC/udev/pvtap-mirror-up" nosuch0

# What networkd is told for the same interface.
net=$PVTAP_SRC/udev/50-pvtap-mirror.network
for want in '^DHCP=no$' '^LinkLocalAddressing=no$' '^IPv6AcceptRA=no$' '^LLDP=no$' '^EmitLLDP=no$' '^ARP=no$' \
            '^Property=PVTAP_MIRROR=1$'; do
    expect_grep "$net" "$want" "50-pvtap-mirror.network has $want"
done
finish
