#!/usr/bin/env bash
# The store's disk fills up (a small tmpfs in a mount namespace of the daemon's own) while the
# daemon captures a day: it retries with back-off (little CPU), says it a few times at most, and
# once space is freed the store holds everything (intervals = truth).
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_test "needs root (network and mount namespaces)"
capture_netns pvtapfull
mkdir "$TMP/small" "$TMP/rt"
cat >"$TMP/full.conf" <<CONF
site = { timezone = "America/Los_Angeles"; production = "inverters"; }; # the truth sums the inverters
store = { path = "$TMP/small/pvtap.db"; };
sources = ( { type = "sniff"; interface = "veth1"; } );
CONF
# The store's folder is a 2 MB tmpfs only the daemon (and nsenter) sees.
ip netns exec "$NS" unshare -m --propagation private sh -c 'mount -t tmpfs -o size=2m tmpfs "$1" && exec "$2" run -c "$3" --no-drop --runtime-dir "$4"' \
    _ "$TMP/small" "$PVTAP" "$TMP/full.conf" "$TMP/rt" 2>"$TMP/daemon.err" &
pid=$!
for _ in $(seq 50); do [ -s "$TMP/rt/status.json" ] && break; sleep 0.1; done
[ -s "$TMP/rt/status.json" ] && ok "daemon up" || { not_ok "no status.json"; cat "$TMP/daemon.err"; finish; exit 1; }
# -r: the target's root too (under a chroot, setns alone lands in the namespace's real root)
in_mnt() { nsenter -t "$pid" -m -r "$@"; }
# Never fill anything but that tmpfs.
fstype=$(in_mnt findmnt -n -o FSTYPE --target "$TMP/small" || true)
if [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ] || [ "$fstype" != tmpfs ]; then
    not_ok "the daemon's store folder is not its private tmpfs ($fstype)"; finish; exit 1
fi

# Fill the disk to the last block (at most its 2 MB).
in_mnt dd if=/dev/zero of="$TMP/small/fill" bs=4k count=600 2>/dev/null || true
avail=$(in_mnt df --output=avail "$TMP/small" | tail -1 | tr -d ' ')
[ "$avail" = 0 ] && ok "the store's disk is full" || not_ok "the store's disk has $avail KB free"
lines_before=$(wc -l <"$TMP/daemon.err")

in_ns tcpreplay -q -i veth0 --pps 3000 "$PVTAP_DATA/sample-day.pcap" >"$TMP/replay.out" 2>&1 ||
    not_ok "tcpreplay failed: $(tail -2 "$TMP/replay.out")"
sleep 1
# CPU over 10 s of a full disk (clock ticks: utime + stime).
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
sleep 10
t1=$(ticks)
pct=$(((t1 - t0) * 100 / (hz * 10)))
[ "$pct" -lt 5 ] && ok "CPU while the disk is full: $pct% over 10 s ($((t1 - t0)) ticks)" ||
    not_ok "CPU while the disk is full: $pct% over 10 s ($((t1 - t0)) ticks)"
lines=$(($(wc -l <"$TMP/daemon.err") - lines_before))
[ "$lines" -le 3 ] && ok "the full disk is said $lines times in 11 s" ||
    { not_ok "the full disk is said $lines times in 11 s"; tail -5 "$TMP/daemon.err"; }
expect_grep "$TMP/daemon.err" "cannot write the store .*disk is full" "the failure names the full disk"
grep -q '"id":[[:space:]]*"store"' "$TMP/rt/status.json" && ok "store alert in status.json" ||
    not_ok "no store alert in status.json"
waiting=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queue"]["readings_uncommitted"])' "$TMP/rt/status.json")
[ "$waiting" -gt 0 ] && ok "$waiting readings wait in memory" || not_ok "no reading waits in memory"

# Space returns: the next retry (at most 16 s after the last at this point) commits it all.
in_mnt rm -f "$TMP/small/fill"
done_=""
for _ in $(seq 70); do
    /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["queue"]["readings_uncommitted"] == 0 and not s["alerts"] else 1)' \
        "$TMP/rt/status.json" 2>/dev/null && { done_=1; break; }
    sleep 0.5
done
[ -n "$done_" ] && ok "committed and the alert cleared once space returned" || not_ok "still waiting after space returned"
# The tmpfs ends with the daemon's mount namespace: read the store from inside it now.
in_mnt "$PVTAP" intervals --db "$TMP/small/pvtap.db" --format csv >"$TMP/full.csv"
if diff <(grep -v ',poll,' "$PVTAP_DATA/sample-day.intervals.csv") "$TMP/full.csv" >"$TMP/diff"; then
    ok "after the disk was full, intervals equal the truth: nothing lost"
else not_ok "intervals differ after the disk was full"; head -10 "$TMP/diff"; fi
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $rc"
expect_grep "$TMP/daemon.err" "writable again" "the recovery is said"
n_fail=$(grep -c "cannot write the store" "$TMP/daemon.err" || true)
[ "$n_fail" -le 2 ] && ok "the failure logged $n_fail time(s) in all" || not_ok "the failure logged $n_fail times"

finish
