#!/usr/bin/env bash
# The store file is deleted, later replaced by another file, while the daemon captures: each
# time the next commit notices, raises the store_file alert, re-creates the store at its path
# from the open database (the foreign file kept aside), and goes on, so the final store at the
# path holds every interval of the day.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_test "needs root (network namespace)"
need_tool editcap wireshark-common
capture_netns pvtapdel
mkdir "$TMP/var" "$TMP/rt"
# The day in three parts, so commits happen before and after each blow.
editcap -r "$PVTAP_DATA/sample-day.pcap" "$TMP/first.pcap" 1-1200
editcap -r "$PVTAP_DATA/sample-day.pcap" "$TMP/second.pcap" 1201-2400
editcap -r "$PVTAP_DATA/sample-day.pcap" "$TMP/third.pcap" 2401-999999
cat >"$TMP/del.conf" <<CONF
site = { timezone = "America/Los_Angeles"; production = "inverters"; }; # the truth sums the inverters
store = { path = "$TMP/var/pvtap.db"; };
sources = ( { type = "sniff"; interface = "veth1"; } );
CONF
ip netns exec "$NS" "$PVTAP" run -c "$TMP/del.conf" --no-drop --runtime-dir "$TMP/rt" 2>"$TMP/daemon.err" &
pid=$!
for _ in $(seq 50); do [ -s "$TMP/rt/status.json" ] && break; sleep 0.1; done
[ -s "$TMP/rt/status.json" ] && ok "daemon up" || { not_ok "no status.json"; finish; exit 1; }
status() { /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/rt/status.json" "$1"; }
wait_committed() {
    for _ in $(seq 60); do
        [ "$(status 's["queue"]["readings_uncommitted"] == 0 and s["store"]["commits"] >= '"$1")" = True ] && return 0
        sleep 0.25
    done
    return 1
}

in_ns tcpreplay -q -i veth0 --pps 3000 "$TMP/first.pcap" >"$TMP/replay.out" 2>&1 || not_ok "tcpreplay failed"
wait_committed 1 && ok "the first part is committed" || not_ok "the first part is not committed"
n1=$("$PVTAP" intervals --db "$TMP/var/pvtap.db" --format csv | grep -c ',sniff,' || true)

# Deleted as a person would: the file and its companions.
rm -f "$TMP/var/pvtap.db" "$TMP/var/pvtap.db-wal" "$TMP/var/pvtap.db-shm"
commits=$(status 's["store"]["commits"]')
in_ns tcpreplay -q -i veth0 --pps 3000 "$TMP/second.pcap" >"$TMP/replay.out" 2>&1 || not_ok "tcpreplay failed"
wait_committed $((commits + 1)) && ok "the second part is committed" || not_ok "the second part is not committed"
[ -e "$TMP/var/pvtap.db" ] && ok "the store is back at its path" || not_ok "no store at the path"
expect_grep "$TMP/daemon.err" "was deleted or replaced while pvtap ran" "the store_file alert is raised"
expect_grep "$TMP/daemon.err" "re-created with everything it held" "the re-creation is said"
[ "$(status 's["store"]["recreated"]')" = 1 ] && ok "status: store re-created once" ||
    not_ok "status: store re-created $(status 's["store"]["recreated"]') times"

# Replaced: another database renamed over the path (a restore gone wrong).
/usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("create table foreign_t(a)"); c.commit()' "$TMP/var/other.db"
mv "$TMP/var/other.db" "$TMP/var/pvtap.db"
commits=$(status 's["store"]["commits"]')
in_ns tcpreplay -q -i veth0 --pps 3000 "$TMP/third.pcap" >"$TMP/replay.out" 2>&1 || not_ok "tcpreplay failed"
wait_committed $((commits + 1)) && ok "the third part is committed" || not_ok "the third part is not committed"
[ "$(status 's["store"]["recreated"]')" = 2 ] && ok "status: store re-created twice" ||
    not_ok "status: store re-created $(status 's["store"]["recreated"]') times"
aside=$(ls "$TMP/var/" | grep -c '^pvtap.db.displaced-' || true)
[ "$aside" = 1 ] && /usr/bin/python3 -c 'import sqlite3,sys,glob; c=sqlite3.connect(glob.glob(sys.argv[1])[0]); c.execute("select a from foreign_t")' "$TMP/var/pvtap.db.displaced-*" &&
    ok "the foreign file is kept aside, intact" || not_ok "$aside displaced files, or not the foreign one"
# The folder deleted while nothing new arrives, and made again 2 s later:
# re-created without waiting for a commit.
rm -rf "$TMP/var"
sleep 2
mkdir "$TMP/var"
for _ in $(seq 80); do [ "$(status 's["store"]["recreated"]')" = 3 ] && break; sleep 0.25; done
[ "$(status 's["store"]["recreated"]')" = 3 ] && [ -e "$TMP/var/pvtap.db" ] &&
    ok "folder deleted and made again, no new data: the store is re-created" ||
    not_ok "folder deleted, no new data: re-created $(status 's["store"]["recreated"]') times"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $rc"

"$PVTAP" intervals --db "$TMP/var/pvtap.db" --format csv >"$TMP/after.csv" 2>"$TMP/err" || true
if diff <(grep -v ',poll,' "$PVTAP_DATA/sample-day.intervals.csv") "$TMP/after.csv" >"$TMP/diff"; then
    ok "the store at the path has every interval of the day ($n1 before the deletion)"
else not_ok "intervals differ after the deletion"; head -10 "$TMP/diff"; fi

# Lost for good (its folder gone) when the daemon stops: it says what is lost, exits non-zero.
mkdir "$TMP/var2"
cat >"$TMP/gone.conf" <<CONF
store = { path = "$TMP/var2/pvtap.db"; };
sources = ( { type = "sniff"; file = "$TMP/first.pcap"; } );
CONF
"$PVTAP" run -c "$TMP/gone.conf" --no-drop --runtime-dir "$TMP/rt2" 2>"$TMP/gone.err" &
pid=$!
for _ in $(seq 40); do grep -q "input exhausted" "$TMP/gone.err" && break; sleep 0.25; done
sleep 1.5
rm -rf "$TMP/var2"
sleep 1
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" != 0 ] && ok "store lost for good at the stop: exit $rc" || not_ok "store lost for good: exit 0"
expect_grep "$TMP/gone.err" "stopping with data not in the store .*lost" "what is lost is said"
finish
