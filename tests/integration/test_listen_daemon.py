#!/usr/bin/python3
"""The daemon runs a `listen` source (and nothing else) on a pty where
pvsim_rs485 --device bus plays a supervisor polling a WattNode: after a few
seconds and SIGTERM (exit 0), the store's records table holds series
"listen" readings of the net meter equal to the simulator's truth; the
config refuses `listen` beside a transmitting source on the same port."""
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

PVTAP = os.environ["PVTAP"]
SIM = os.path.join(os.environ["PVTAP_SIM"], "pvsim_rs485")
TMP = tempfile.mkdtemp()
FAILS = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)[:2000]))
    if not ok:
        FAILS.append(name)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


link, ready, truth = (os.path.join(TMP, x) for x in ("bus.tty", "bus.ready", "truth.jsonl"))
DATA = os.environ.get("PVTAP_DATA", os.path.join(os.path.dirname(__file__), "..", "data"))
db, rt, conf = (os.path.join(TMP, x) for x in ("pvtap.db", "rt", "listen.conf"))
os.mkdir(rt)
sim = None
try:
    sim = subprocess.Popen([SIM, "--device", "bus", "--link", link, "--ready-file", ready,
                            "--truth", truth, "--period-ms", "300", "--power-w", "-1500",
                            "--import-kwh", "2.5", "--export-kwh", "7.25", "--voltage", "120.5",
                            "--serial", "4242"])
    for _ in range(300):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            break
        time.sleep(0.01)
    with open(conf, "w") as f:
        f.write('site = { timezone = "UTC"; };\n'
                'store = { path = "%s"; };\n'
                'sources = ( { type = "listen"; port = "%s"; baud = 9600; parity = "N";\n'
                '              max_poll_gap_s = 150; },\n'
                '            { type = "sniff"; file = "%s"; } );\n'
                % (db, link, os.path.join(DATA, "sample-day.pcap")))
    err = open(os.path.join(TMP, "daemon.err"), "w+")
    d = subprocess.Popen([PVTAP, "run", "--no-drop", "--runtime-dir", rt, "-c", conf],
                         stdout=err, stderr=err)
    time.sleep(5)
    d.send_signal(signal.SIGTERM)
    rc = d.wait(timeout=10)
    err.seek(0)
    log = err.read()
    check("daemon exits 0 on SIGTERM", rc == 0, (rc, log))
    check("the listen source opened", "listening on" in log, log)
    sim.send_signal(signal.SIGTERM)
    sim.wait(timeout=10)
    with open(truth) as f:
        scans = [json.loads(x) for x in f]
    check("the simulator scanned", len(scans) >= 5, len(scans))

    con = sqlite3.connect(db)
    rows = con.execute("SELECT series, device, kind, quantity, clock, time, value FROM records "
                       "WHERE series = 'listen'").fetchall()
    other = con.execute("SELECT count(*) FROM records WHERE series NOT IN ('listen', 'sniff')"
                        ).fetchone()[0]
    sniffed = con.execute("SELECT count(*) FROM intervals WHERE series = 'sniff'").fetchone()[0]
    con.close()
    check("records under series listen", len(rows) > 0, rows)
    check("the sniff source beside it filled its series (287 intervals)", sniffed == 287, sniffed)
    check("nothing under another series", other == 0, other)
    by_q = {}
    for series, device, kind, q, clock, t, v in rows:
        by_q.setdefault(q, []).append((device, kind, clock, t, v))
    want = {"energy_net_lifetime_kWh": f32(2.5 - 7.25), "energy_import_lifetime_kWh": f32(2.5),
            "energy_export_lifetime_kWh": f32(7.25)}
    # (power and voltage are live values: they go to the live sinks, not the SD card)
    for q, v in want.items():
        got = by_q.get(q, [])
        check("%s recorded and exact" % q, got and all(f32(r[4]) == v for r in got), got[:3])
    check("net meter readings, poll clock",
          all(r[1] == "net_meter" for rs in by_q.values() for r in rs), by_q)
    devices = {r[0] for rs in by_q.values() for r in rs}
    check("device is named by its bus address, stable from the first scan",
          devices == {"wattnode@1"}, devices)
    lo, hi = min(s["time"] for s in scans), max(s["time"] for s in scans)
    ts = [r[3] for rs in by_q.values() for r in rs]
    check("times are the scans' times",
          all(int(time.mktime(time.strptime(lo, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone) - 2 <= t <=
              int(time.mktime(time.strptime(hi, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone) + 2
              for t in ts), (lo, hi, ts[:5]))

    # listen beside a transmitting source on one port: a config error naming file:line
    with open(conf, "w") as f:
        f.write('store = { path = "%s"; };\n'
                'sources = ( { type = "listen"; port = "/dev/ttyX"; },\n'
                '            { type = "listen"; port = "/dev/ttyX"; name = "b"; bogus = 1; } );\n'
                % db)
    p = subprocess.run([PVTAP, "config", "check", "-c", conf], capture_output=True, text=True)
    check("an unknown key in a listen section is an error with file:line",
          p.returncode == 2 and "listen.conf:3" in p.stderr and "bogus" in p.stderr, p)
finally:
    if sim and sim.poll() is None:
        sim.kill()
        sim.wait()
    for name in os.listdir(rt):
        os.unlink(os.path.join(rt, name))
    os.rmdir(rt)
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)
sys.exit(1 if FAILS else 0)
