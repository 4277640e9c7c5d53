#!/usr/bin/python3
"""`pvtap listen` on a pty against pvsim_rs485 --device bus (a simulated
supervisor polling a WattNode): every printed reading equals what the meter
held at one scan (float32 exact, from the simulator's truth file), in scan
order; every scan the simulator did not damage is printed; clean, with CRC
errors, with stray bytes and with FTDI-like 16 ms bursts. Also --stats, and
that the port is opened read-only (the simulator's line sees no byte)."""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time

PVTAP = os.environ["PVTAP"]
SIM = os.path.join(os.environ["PVTAP_SIM"], "pvsim_rs485")
TMP = tempfile.mkdtemp()
FAILS = []
CYCLES = 14  # two identity reads (scans 0 and 12)


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)[:2000]))
    if not ok:
        FAILS.append(name)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def iso_s(s):
    return int(time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)


def run(tag, *args):
    ready, link, truth = (os.path.join(TMP, tag + x) for x in (".ready", ".tty", ".jsonl"))
    sim = subprocess.Popen([SIM, "--device", "bus", "--link", link, "--ready-file", ready,
                            "--truth", truth, "--period-ms", "250", "--cycles", str(CYCLES),
                            "--live", "--power-w", "3000", "--import-kwh", "1.5",
                            "--export-kwh", "0.25", "--voltage", "121.5", "--freq", "59.98",
                            "--serial", "77", *args])
    for _ in range(300):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            break
        time.sleep(0.01)
    lis = subprocess.Popen([PVTAP, "listen", "--port", link, "--stats"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sim.wait(timeout=60)
    time.sleep(0.5)
    lis.send_signal(signal.SIGTERM)
    out, err = lis.communicate(timeout=10)
    with open(truth) as f:
        scans = [json.loads(x) for x in f]
    lines = []
    for x in out.splitlines():
        try:
            lines.append(json.loads(x))
        except ValueError:
            lines.append({"unparsable": x})
    return lis.returncode, lines, scans, err


BASIC = ["power_W", "energy_net_lifetime_kWh", "energy_import_lifetime_kWh", "voltage_V",
         "frequency_Hz"]
ALLOWED = set(["device", "address", "time", "serial", "energy_export_lifetime_kWh", *BASIC,
               "power_A_W", "voltage_A_V", "power_B_W", "voltage_B_V"])


def same(line, scan, keys):
    return all(k in line and f32(line[k]) == f32(scan[k]) for k in keys)


def judge(tag, rc, lines, scans, err):
    check(tag + ": exit 0 on SIGTERM", rc == 0, (rc, err))
    check(tag + ": truth has every scan", len(scans) == CYCLES, len(scans))
    bad = [x for x in lines if x.get("device") != "wattnode" or x.get("address") != 1 or
           not set(x) <= ALLOWED]
    check(tag + ": every line is a WattNode record with poll's keys", not bad, bad[:3])
    # Each basic line is one scan's 1001 block, in order; each export line
    # belongs to a scan at or after the previous basic line's.
    at, basic_of, export_of, stray = -1, set(), set(), []
    for x in lines:
        if "energy_net_lifetime_kWh" in x:
            m = [i for i in range(max(at, 0), len(scans)) if same(x, scans[i], BASIC)]
            if not m:
                stray.append(x)
                continue
            at = m[0]
            basic_of.add(at)
            if abs(iso_s(x["time"]) - iso_s(scans[at]["time"])) > 2:
                stray.append(("time", x, scans[at]))
            for k in ("power_A_W", "power_B_W"):
                if k in x and f32(x[k]) != f32(scans[at]["power_W"] / 2):
                    stray.append((k, x))
        elif "energy_export_lifetime_kWh" in x:
            m = [i for i in range(max(at, 0), len(scans))
                 if same(x, scans[i], ["energy_export_lifetime_kWh"])]
            if not m:
                stray.append(x)
            else:
                export_of.add(m[0])
        elif set(x) != {"device", "address", "time", "serial"} or x.get("serial") != "77":
            stray.append(x)
        if "serial" in x and x["serial"] != "77":
            stray.append(("serial", x))
    check(tag + ": every printed value equals the meter's at one scan (in order)", not stray,
          stray[:3])
    clean = [i for i, s in enumerate(scans) if not s.get("sim_fault")]
    missing = [i for i in clean if i not in basic_of]
    check(tag + ": every undamaged scan's readings printed", not missing,
          (missing, len(lines), err))
    missing_x = [i for i in clean if i not in export_of and i + 1 < len(scans)]
    check(tag + ": every undamaged scan's export printed", not missing_x, missing_x)
    check(tag + ": the serial (1701) is printed once heard",
          any(x.get("serial") == "77" for x in lines), lines[:4])
    check(tag + ": --stats names the master's polls",
          "what the other master polls" in err and "EnergySum..Freq" in err, err)
    return len(clean)


try:
    # 1. A clean bus with a ghost device, byte by byte at wire speed.
    rc, lines, scans, err = run("clean", "--ghost-address", "9")
    n = judge("clean", rc, lines, scans, err)
    check("clean: no scan damaged", n == CYCLES, n)
    ghost = [l for l in err.splitlines() if l.split()[:2] == ["9", "3"]]
    check("clean: --stats shows the ghost never answers",
          len(ghost) == 1 and ghost[0].split()[5] == str(CYCLES) and
          ghost[0].split()[6] == "0" and ghost[0].split()[8] == str(CYCLES), ghost)

    # 2. Corrupt frames (requests and responses), seeded.
    rc, lines, scans, err = run("crc", "--crc-error", "0.15", "--seed", "3")
    n = judge("crc", rc, lines, scans, err)
    check("crc: some scans damaged, others not", 0 < n < CYCLES, n)
    check("crc: CRC errors counted", "crc errors 0," not in err, err)

    # 3. Stray bytes between frames.
    rc, lines, scans, err = run("garbage", "--garbage", "0.5", "--seed", "5")
    judge("garbage", rc, lines, scans, err)
    check("garbage: noise counted", "noise bytes 0\n" not in err, err)

    # 4. FTDI-like 16 ms bursts, with faults on top.
    rc, lines, scans, err = run("batch", "--batch-ms", "16", "--crc-error", "0.1",
                                "--garbage", "0.3", "--seed", "7")
    judge("batch", rc, lines, scans, err)

    # 5. Usage errors exit 2; a missing port exits 1.
    p = subprocess.run([PVTAP, "listen"], capture_output=True, text=True)
    check("no --port: exit 2", p.returncode == 2, p)
    p = subprocess.run([PVTAP, "listen", "--port", "/dev/null", "--baud", "1234"],
                       capture_output=True, text=True)
    check("bad --baud: exit 2", p.returncode == 2, p)
    p = subprocess.run([PVTAP, "listen", "--port", os.path.join(TMP, "nope")],
                       capture_output=True, text=True)
    check("missing port: exit 1", p.returncode == 1 and "nope" in p.stderr, p)
    p = subprocess.run([PVTAP, "listen", "--help"], capture_output=True, text=True)
    check("--help on stdout", p.returncode == 0 and p.stdout.startswith("usage:"), p)
finally:
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)
sys.exit(1 if FAILS else 0)
