#!/usr/bin/env bash
# The daemon live, in a network namespace of its own: capture on a veth fed by tcpreplay,
# dropped to an unprivileged user keeping only CAP_NET_RAW (none without a sniff source),
# SIGHUP with a broken then a valid config, SIGTERM exits 0 within 2 s, intervals = truth.
source "$(dirname "$0")/lib.sh"
need_tool ip iproute2
need_tool tcpreplay tcpreplay
[ "$(id -u)" = 0 ] || skip_test "needs root (network namespace, privilege drop)"
capture_netns pvtapd
chmod 755 "$TMP"
mkdir -m 777 "$TMP/var" "$TMP/rt"

cat >"$TMP/live.conf" <<CONF
site = { timezone = "America/Los_Angeles"; production = "inverters"; };
store = { path = "$TMP/var/pvtap.db"; };
run = { user = "nobody"; };
sources = ( { type = "sniff"; interface = "veth1"; } );
CONF
ip netns exec "$NS" "$PVTAP" run -c "$TMP/live.conf" --runtime-dir "$TMP/rt" 2>"$TMP/daemon.err" &
pid=$!
for _ in $(seq 50); do [ -s "$TMP/rt/status.json" ] && break; sleep 0.1; done
[ -s "$TMP/rt/status.json" ] && ok "daemon up, status.json written" || not_ok "no status.json"
uid=$(awk '/^Uid:/{print $2}' /proc/$pid/status)
[ "$uid" = "$(id -u nobody)" ] && ok "runs as nobody" || not_ok "runs as uid $uid"
capeff=$(awk '/^CapEff:/{print $2}' /proc/$pid/status)
[ "$capeff" = "0000000000002000" ] && ok "CapEff is CAP_NET_RAW only ($capeff)" || not_ok "CapEff $capeff"

# Feed it a day of supervisor traffic through the wire.
in_ns tcpreplay -q -i veth0 --pps 3000 "$PVTAP_DATA/sample-day.pcap" >"$TMP/replay.out" 2>&1 ||
    not_ok "tcpreplay failed: $(tail -2 "$TMP/replay.out")"
sleep 3

# SIGHUP with a broken config: kept running on the old one.
cp "$TMP/live.conf" "$TMP/live.conf.good"
sed -i 's|America/Los_Angeles|Nowhere/Atlantis|' "$TMP/live.conf"
kill -HUP "$pid"; sleep 1
kill -0 "$pid" 2>/dev/null && ok "alive after SIGHUP with a broken config" || not_ok "died on a broken config"
expect_grep "$TMP/daemon.err" "live.conf:[0-9]+: site.timezone" "the broken config is named with file:line"
expect_grep "$TMP/daemon.err" "keeping the old one" "the old config is kept"
cp "$TMP/live.conf.good" "$TMP/live.conf"
kill -HUP "$pid"; sleep 1
expect_grep "$TMP/daemon.err" "configuration reloaded" "a valid config is reloaded"
capeff=$(awk '/^CapEff:/{print $2}' /proc/$pid/status)
[ "$capeff" = "0000000000002000" ] && ok "after reload still only CAP_NET_RAW" || not_ok "CapEff after reload $capeff"

start=$(date +%s%N)
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $rc"
[ "$ms" -le 2000 ] && ok "SIGTERM: stopped in $ms ms" || not_ok "SIGTERM took $ms ms"

"$PVTAP" intervals --db "$TMP/var/pvtap.db" --format csv >"$TMP/live.csv"
if diff <(grep -v ',poll,' "$PVTAP_DATA/sample-day.intervals.csv") "$TMP/live.csv" >"$TMP/diff"; then
    ok "live capture intervals equal the truth"
else not_ok "live intervals differ"; head -10 "$TMP/diff"; fi
owner=$(stat -c %U "$TMP/var/pvtap.db")
[ "$owner" = nobody ] && ok "the store was created by the unprivileged user" || not_ok "store owned by $owner"

# The store fails mid-day (a file-size limit stands in for a full SD card):
# reported, an alert raised, nothing lost once it can write again.
rm -f "$TMP/var/pvtap.db"*
: >"$TMP/daemon.err"
# (--no-drop: prlimit may not reach a process that has changed its uid.)
ip netns exec "$NS" "$PVTAP" run -c "$TMP/live.conf" --no-drop --runtime-dir "$TMP/rt" 2>"$TMP/daemon.err" &
pid=$!
sleep 1
ip netns exec "$NS" tcpreplay -q -i veth0 --pps 300 "$PVTAP_DATA/sample-day.pcap" >"$TMP/replay.out" 2>&1 &
rpid=$!
sleep 2
# Soft limit only: the test may lower and raise it back without privilege.
prlimit --pid "$pid" --fsize=4096:unlimited || not_ok "prlimit failed"
seen=""
for _ in $(seq 40); do
    grep -q '"id":[[:space:]]*"store"' "$TMP/rt/status.json" 2>/dev/null && { seen=1; break; }
    sleep 0.25
done
[ -n "$seen" ] && ok "store alert in status.json while it fails" ||
    not_ok "no store alert in status.json while it fails"
prlimit --pid "$pid" --fsize=unlimited:unlimited || not_ok "prlimit (raise) failed"
wait "$rpid" || not_ok "tcpreplay failed"
sleep 3
kill -TERM "$pid"; wait "$pid" || not_ok "daemon exit status $? after the store failure"
expect_grep "$TMP/daemon.err" "cannot write the store" "the store failure is reported"
expect_grep "$TMP/daemon.err" "writable again" "the recovery is reported"
"$PVTAP" intervals --db "$TMP/var/pvtap.db" --format csv >"$TMP/full.csv"
if diff <(grep -v ',poll,' "$PVTAP_DATA/sample-day.intervals.csv") "$TMP/full.csv" >"$TMP/diff"; then
    ok "after the store recovered, intervals equal the truth: nothing lost"
else not_ok "intervals differ after the store failure"; head -10 "$TMP/diff"; fi

# No sniff source: no capability at all.
cat >"$TMP/none.conf" <<CONF
store = { path = "$TMP/var/none.db"; };
run = { user = "nobody"; };
CONF
ip netns exec "$NS" "$PVTAP" run -c "$TMP/none.conf" --runtime-dir "$TMP/rt" 2>/dev/null &
pid=$!
sleep 1
capeff=$(awk '/^CapEff:/{print $2}' /proc/$pid/status)
[ "$capeff" = "0000000000000000" ] && ok "without a sniff source CapEff is 0" || not_ok "CapEff $capeff"
kill -TERM "$pid"; wait "$pid" || true

# A sniff source that reads a capture file needs no capability either.
cp "$PVTAP_DATA/sample-day.pcap" "$TMP/file.pcap"; chmod 644 "$TMP/file.pcap"
cat >"$TMP/file.conf" <<CONF
store = { path = "$TMP/var/file.db"; };
run = { user = "nobody"; };
sources = ( { type = "sniff"; file = "$TMP/file.pcap"; } );
CONF
"$PVTAP" run -c "$TMP/file.conf" --runtime-dir "$TMP/rt" 2>"$TMP/file.err" &
pid=$!
sleep 1
capeff=$(awk '/^CapEff:/{print $2}' /proc/$pid/status)
capprm=$(awk '/^CapPrm:/{print $2}' /proc/$pid/status)
[ "$capeff$capprm" = "00000000000000000000000000000000" ] &&
    ok "a sniff source on a capture file: no capability (CapEff and CapPrm 0)" ||
    not_ok "capture file: CapEff $capeff CapPrm $capprm"
kill -TERM "$pid"; wait "$pid" || true
finish
