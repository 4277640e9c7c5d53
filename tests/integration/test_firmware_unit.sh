#!/usr/bin/env bash
# firmware/pvtap.service: `systemd-analyze verify` says nothing, and the
# hardening keeps `systemd-analyze security` exposure at or below 2.0
# (systemd 252's --threshold takes the score x 10).
source "$(dirname "$0")/lib.sh"
: "${PVTAP_SRC:?}"
need_tool systemd-analyze systemd
unit_src="$PVTAP_SRC/firmware/pvtap.service"

# verify needs ExecStart's binary to exist: a copy of the unit, same name,
# pointing at the built binary.
mkdir -p "$TMP/unit"
sed "s#/usr/bin/pvtap#$PVTAP#g" "$unit_src" >"$TMP/unit/pvtap.service"
unit="$TMP/unit/pvtap.service"

# It exits 0 on unknown keys and only prints them: stderr must be empty.
expect_rc 0 "systemd-analyze verify" -- systemd-analyze verify --man=no "$unit"
if [ -s "$TMP/err" ]; then not_ok "verify printed warnings"; sed 's/^/  | /' "$TMP/err"; else ok "verify printed nothing"; fi

# The check itself catches a mistake (a misspelt key).
sed 's/^ProtectHome=/ProtectHme=/' "$unit" >"$TMP/unit/pvtap-bad.service"
systemd-analyze verify --man=no "$TMP/unit/pvtap-bad.service" >"$TMP/out" 2>"$TMP/err" || true
expect_grep "$TMP/err" 'ProtectHme' "verify reports a misspelt key (the check works)"

expect_rc 0 "systemd-analyze security exposure <= 2.0" -- \
    systemd-analyze security --offline=true --threshold=20 "$unit"
score=$(grep -o 'exposure level for pvtap.service: [0-9.]*' "$TMP/out" | awk '{print $NF}')
echo "# exposure: ${score:-?}"
[ -n "$score" ] && ok "exposure printed ($score)" || not_ok "no exposure score in the output"

# What the design relies on, said explicitly (a later edit must not drop it).
for want in '^Type=notify$' '^WatchdogSec=' '^User=pvtap$' '^AmbientCapabilities=CAP_NET_RAW$' \
            '^CapabilityBoundingSet=CAP_NET_RAW$' '^DevicePolicy=closed$' '^DeviceAllow=char-ttyUSB rw$' \
            '^ProtectSystem=strict$' '^StateDirectory=pvtap$' '^RestrictAddressFamilies=.*AF_PACKET' \
            '^SystemCallFilter=@system-service$' '^ExecStart=/usr/bin/pvtap run '; do
    expect_grep "$unit_src" "$want" "unit has $want"
done
finish
