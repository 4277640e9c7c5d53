#!/usr/bin/python3
"""pvsim_rs485 --device bus (another master polling a WattNode) checked by a
listener written here in Python with pymodbus' own CRC: frames split on
silence, CRCs check, requests pair with responses, the decoded CDAB floats
equal the truth file, the meter answers >= 5 ms after a request, and the
fault knobs are seeded (two runs with one seed give the same bytes)."""
import errno
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import time

from need import need_module

computeCRC = need_module("pymodbus.utilities", "python3-pymodbus").computeCRC

SIM = os.path.join(os.environ["PVTAP_SIM"], "pvsim_rs485")
TMP = tempfile.mkdtemp()
FAILS = []
CHAR_S = 10 / 9600.0


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)))
    if not ok:
        FAILS.append(name)


def crc_ok(f):
    return len(f) >= 4 and struct.pack(">H", computeCRC(f[:-2])) == f[-2:]


def run_bus(tag, *args):
    """Runs the bus to its end; returns (chunks [(t_first, t_last, bytes)], truth lines)."""
    ready, link, truth = (os.path.join(TMP, tag + x) for x in (".ready", ".tty", ".jsonl"))
    p = subprocess.Popen([SIM, "--device", "bus", "--link", link, "--ready-file", ready,
                          "--truth", truth, *args])
    for _ in range(200):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            break
        time.sleep(0.02)
    fd = os.open(link, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    arrivals = []                     # (time, bytes) as read
    while True:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                b = os.read(fd, 4096)
            except OSError as e:
                if e.errno == errno.EIO:   # the simulator closed the line
                    break
                raise
            if not b:
                break
            arrivals.append((time.monotonic(), b))
        elif p.poll() is not None:
            break
    os.close(fd)
    p.wait()
    # split on >= 3.5 character silences
    chunks = []
    for t, b in arrivals:
        if chunks and t - chunks[-1][1] < 3.5 * CHAR_S:
            chunks[-1] = (chunks[-1][0], t, chunks[-1][2] + b)
        else:
            chunks.append((t, t, b))
    with open(truth) as f:
        lines = [json.loads(x) for x in f]
    return chunks, lines


def frames(chunks):
    """Whole frames by Modbus length rules over the byte stream (a loaded
    reader may see two frames in one read, and --batch-ms splits frames):
    an 8-byte read request or a 5 + count response whose CRC checks; bytes
    that start neither are garbage or a corrupt frame (good=False)."""
    tb = [(t1, x) for _, t1, b in chunks for x in b]
    data = bytes(x for _, x in tb)
    out, i, junk = [], 0, None
    while i < len(data):
        n = None
        if i + 8 <= len(data) and data[i + 1] in (3, 4) and crc_ok(data[i:i + 8]):
            n = 8
        elif i + 3 <= len(data) and data[i + 1] in (3, 4):
            m = 5 + data[i + 2]
            if i + m <= len(data) and crc_ok(data[i:i + m]):
                n = m
        if n:
            if junk is not None:
                out.append((tb[junk][0], tb[i - 1][0], data[junk:i], False))
                junk = None
            out.append((tb[i][0], tb[i + n - 1][0], data[i:i + n], True))
            i += n
        else:
            if junk is None:
                junk = i
            i += 1
    if junk is not None:
        out.append((tb[junk][0], tb[-1][0], data[junk:], False))
    return out


def cdab(regs_bytes, k):
    lo, hi = struct.unpack(">HH", regs_bytes[4 * k:4 * k + 4])
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def decode(fr):
    """Pairs requests with responses; returns the readings per scan."""
    scans, pending, delays = [], None, []
    for t0, t1, b, good in fr:
        if not good:
            pending = None
            continue
        if len(b) == 8 and b[1] in (3, 4):
            pending = (t1, b[0], b[1], struct.unpack(">HH", b[2:6]))
            continue
        if pending and b[0] == pending[1] and b[1] == pending[2] and b[2] == 2 * pending[3][1]:
            delays.append(t1 - pending[0] - len(b) * CHAR_S)
            reg, count = pending[3][0] + 1, pending[3][1]
            regs = b[3:-2]
            if reg == 1001 and count == 34:
                scans.append({"power_W": cdab(regs, 4), "energy_net_lifetime_kWh": cdab(regs, 2),
                              "energy_import_lifetime_kWh": cdab(regs, 3), "voltage_V": cdab(regs, 8),
                              "frequency_Hz": cdab(regs, 16)})
            elif reg == 1113 and scans:
                scans[-1]["energy_export_lifetime_kWh"] = cdab(regs, 1)
        pending = None
    return scans, delays


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


try:
    # 1. A clean bus, with a ghost device the master polls that never answers.
    chunks, truth = run_bus("clean", "--period-ms", "150", "--cycles", "5", "--ghost-address", "9",
                            "--power-w", "-2100.5", "--import-kwh", "5000.25", "--export-kwh", "6000.75",
                            "--voltage", "119.75", "--freq", "60.02", "--serial", "77")
    fr = frames(chunks)
    check("every frame's CRC checks", all(g for *_, g in fr), [f[2].hex() for f in fr if not f[3]])
    scans, delays = decode(fr)
    check("5 truth lines, 5 decoded scans", (5, 5) == (len(truth), len(scans)), (len(truth), len(scans)))
    keys = ["power_W", "energy_net_lifetime_kWh", "energy_import_lifetime_kWh",
            "energy_export_lifetime_kWh", "voltage_V", "frequency_Hz"]
    check("decoded values == truth", all(all(s[k] == t[k] for k in keys) for s, t in zip(scans, truth)),
          (scans[:1], truth[:1]))
    check("truth holds the float32 values", truth[0]["energy_import_lifetime_kWh"] == f32(5000.25) and
          truth[0]["energy_net_lifetime_kWh"] == f32(5000.25 - 6000.75), truth[0])
    check("truth shape", set(truth[0]) == {"device", "address", "time", "serial", *keys} and
          truth[0]["device"] == "wattnode" and truth[0]["serial"] == "77" and truth[0]["time"].endswith("Z"),
          truth[0])
    # read times carry the reader's scheduling: judge the median
    delays.sort()
    check("meter answers >= 5 ms after the request", delays and delays[len(delays) // 2] >= 0.004, delays)
    ghosts = [b for *_, b, g in fr if b[0] == 9]
    check("ghost address polled, never answered", len(ghosts) == 5 and all(len(b) == 8 for b in ghosts),
          [b.hex() for b in ghosts])

    # 2. Faults, FTDI-like bursts, and determinism: same seed, same bytes.
    fault_args = ("--period-ms", "120", "--cycles", "8", "--crc-errors", "0.15", "--garbage", "0.3",
                  "--seed", "11", "--batch-ms", "16")
    c1, t1 = run_bus("faults1", *fault_args)
    c2, t2 = run_bus("faults2", *fault_args)
    b1 = b"".join(c[2] for c in c1)
    b2 = b"".join(c[2] for c in c2)
    check("same seed, same bytes", b1 == b2 and len(b1) > 0, (len(b1), len(b2)))
    c3, _ = run_bus("faults3", *fault_args[:-4], "--seed", "12", "--batch-ms", "16")
    check("another seed, other bytes", b"".join(c[2] for c in c3) != b1)
    fr = frames(c1)
    bad = [f for f in fr if not f[3]]
    check("faults show as frames that fail their CRC", len(bad) > 0)
    check("faulty scans are marked in the truth", any(t.get("sim_fault") for t in t1), t1)
    scans, _ = decode(fr)
    clean = [t for t in t1 if not t.get("sim_fault")]
    check("every clean truth scan is decodable", len(scans) >= len(clean), (len(scans), len(clean)))
finally:
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)
sys.exit(1 if FAILS else 0)
