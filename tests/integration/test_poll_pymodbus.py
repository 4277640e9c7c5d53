#!/usr/bin/python3
"""`pvtap poll` against an independent responder: a pymodbus server (Debian
python3-pymodbus) holding WattNode registers (CDAB floats) and a SunSpec
chain, over Modbus RTU on a socat pty pair and over Modbus TCP on 127.0.0.1.

The register images are built here with Python's struct module, never with
pvtap's code: a word-order or offset mistake in pvtap shows as a wrong value.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

from need import need_module, need_tool, skip

PVTAP = os.environ.get("PVTAP")


# ---- register images ------------------------------------------------------

def cdab_float(value):
    """A float as the WattNode sends it: low word first."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [lo, hi]


def cdab_u32(value):
    return [value & 0xFFFF, value >> 16]


def wattnode_image():
    """Wire address -> value for the registers a WNC meter documents."""
    regs = {}

    def put(doc_reg, words):
        for i, w in enumerate(words):
            regs[doc_reg - 1 + i] = w

    floats = {
        1001: 99.5,        # EnergySum: resettable, must never be printed
        1003: 100.0,
        1005: -12.25,      # EnergySumNR
        1007: 1234.5,      # EnergyPosSumNR
        1009: -1378.5,     # PowerSum
        1011: -700.25,     # PowerA
        1013: -678.25,     # PowerB
        1015: 0.0,         # PowerC
        1017: 121.25,      # VoltAvgLN
        1019: 121.0,       # VoltA
        1021: 121.5,       # VoltB
        1023: 0.0,         # VoltC: unconnected phase
        1025: 242.5, 1027: 242.5, 1029: 0.0, 1031: 0.0,
        1033: 60.0,        # Freq
        1113: 1200.0,
        1115: 1246.75,     # EnergyNegSumNR
    }
    for reg, v in floats.items():
        put(reg, cdab_float(v))
    for reg in (1201, 1203, 1205, 1207):
        put(reg, [0, 0])
    put(1701, cdab_u32(123456))   # SerialNumber
    put(1703, cdab_u32(1000))
    put(1705, cdab_u32(2000))
    put(1707, [203])              # Model
    put(1708, [31])               # Version
    for reg in range(1709, 1717):
        put(reg, [0])
    return regs


def sunspec_string(text, nregs):
    raw = text.encode().ljust(2 * nregs, b"\0")
    return list(struct.unpack(">%dH" % nregs, raw))


def sunspec_image(base=40000):
    regs = []
    regs += [0x5375, 0x6E53]                      # "SunS"
    common = (sunspec_string("SunPower", 16) + sunspec_string("SPR-X21-345", 16) +
              sunspec_string("", 8) + sunspec_string("1.2.3", 8) +
              sunspec_string("SN414051708000326", 16) + [1, 0xFFFF])
    regs += [1, len(common)] + common             # model 1, L = 66
    regs += [160, 4] + [0, 0, 0, 0]               # an MPPT model to skip (short)
    inv = [0xFFFF] * 50
    neg = lambda v: v & 0xFFFF                     # noqa: E731
    inv[0] = 2450; inv[4] = neg(-2)                # A = 24.50
    inv[5] = 24003; inv[11] = neg(-2)              # PPVphAB = 240.03 (split phase)
    inv[8] = 12001                                 # PhVphA = 120.01
    inv[12] = 5883; inv[13] = 0                    # W
    inv[14] = 6001; inv[15] = neg(-2)              # Hz = 60.01
    inv[22], inv[23] = 0x0001, 0xE240; inv[24] = 1  # WH = 123456 x 10 Wh
    inv[25] = 0xFFFF; inv[26] = neg(-2)            # DCA not implemented
    inv[27] = 3801; inv[28] = neg(-1)              # DCV = 380.1
    inv[29] = 0x8000; inv[30] = 0                  # DCW not implemented -> derived
    inv[31] = 0x8000; inv[32] = neg(-52); inv[35] = neg(-1)  # TmpSnk = -5.2
    inv[36] = 4                                    # MPPT
    for k in (1, 2, 3, 6, 7, 9, 10, 16, 18, 20):
        inv[k] = 0xFFFF
    for k in (17, 19, 21):
        inv[k] = 0x8000
    inv[25] = 0xFFFF
    inv[16] = 0xFFFF
    regs += [102, 50] + inv
    regs += [0xFFFF, 0]
    return {base + i: v for i, v in enumerate(regs)}


# ---- the responder ---------------------------------------------------------

def serve(kind, where):
    """Run a pymodbus server (in a child process): slaves 1 WattNode,
    2 SunSpec inverter, 3 a device holding nothing a reader asks for."""
    import asyncio
    import logging
    from pymodbus.datastore import (ModbusServerContext, ModbusSlaveContext,
                                    ModbusSparseDataBlock)
    from pymodbus.framer.rtu_framer import ModbusRtuFramer
    from pymodbus.framer.socket_framer import ModbusSocketFramer
    from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer

    logging.basicConfig(level=logging.CRITICAL)

    def slave(image):
        return ModbusSlaveContext(hr=ModbusSparseDataBlock(image),
                                  ir=ModbusSparseDataBlock(image), zero_mode=True)

    slaves = {1: slave(wattnode_image()), 2: slave(sunspec_image()),
              3: slave({5000: 1})}
    if kind == "tcp":
        slaves = {126: slave(sunspec_image())}
    context = ModbusServerContext(slaves=slaves, single=False)
    if kind == "rtu":
        coro = StartAsyncSerialServer(context=context, framer=ModbusRtuFramer, port=where,
                                      baudrate=9600, bytesize=8, parity="N", stopbits=1,
                                      ignore_missing_slaves=True)
    else:
        coro = StartAsyncTcpServer(context=context, framer=ModbusSocketFramer,
                                   address=("127.0.0.1", int(where)),
                                   ignore_missing_slaves=True)
    asyncio.run(coro)


# ---- the test --------------------------------------------------------------

failures = []


def check(cond, what):
    if cond:
        print("ok  ", what)
    else:
        print("FAIL", what)
        failures.append(what)


def run(*args, timeout=60):
    p = subprocess.run([PVTAP, "poll", *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def wait_for(path, seconds=5.0):
    end = time.time() + seconds
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if not PVTAP or not os.access(PVTAP, os.X_OK):
        skip("PVTAP not set")
    need_tool("socat", "socat")
    need_module("pymodbus", "python3-pymodbus")
    # pymodbus's async serial server, the RTU peer here, needs serial_asyncio
    need_module("serial_asyncio", "python3-serial-asyncio")
    rc, out, _ = run("--help")
    if "wattnode" not in out:
        skip("pvtap built without libmodbus")

    tmp = tempfile.mkdtemp(prefix="pvtap-poll-")
    dev_server, dev_pvtap = os.path.join(tmp, "server"), os.path.join(tmp, "pvtap")
    procs = []
    try:
        procs.append(subprocess.Popen(
            ["socat", "pty,raw,echo=0,link=" + dev_server, "pty,raw,echo=0,link=" + dev_pvtap],
            stderr=subprocess.DEVNULL))
        if not (wait_for(dev_server) and wait_for(dev_pvtap)):
            check(False, "socat made a pty pair")
            return
        procs.append(subprocess.Popen([sys.executable, __file__, "--serve", "rtu", dev_server]))
        tcp_port = free_port()
        procs.append(subprocess.Popen([sys.executable, __file__, "--serve", "tcp",
                                       str(tcp_port)]))
        time.sleep(1.0)

        quick = ["--listen-s", "0.2"]
        # WattNode: exact values, key order, never the resettable 1001.
        rc, out, err = run("--device", "wattnode", "--port", dev_pvtap, *quick)
        check(rc == 0, "wattnode poll exits 0 (%d: %s)" % (rc, err.strip()))
        if rc == 0:
            rec = json.loads(out)
            keys = list(rec.keys())
            check(keys[:10] == ["device", "address", "time", "serial", "power_W",
                                "energy_net_lifetime_kWh", "energy_import_lifetime_kWh",
                                "energy_export_lifetime_kWh", "voltage_V", "frequency_Hz"],
                  "wattnode keys in the README's order: %s" % keys)
            want = {"device": "wattnode", "address": 1, "serial": "123456",
                    "power_W": -1378.5, "energy_net_lifetime_kWh": -12.25,
                    "energy_import_lifetime_kWh": 1234.5,
                    "energy_export_lifetime_kWh": 1246.75, "voltage_V": 121.25,
                    "frequency_Hz": 60.0, "power_A_W": -700.25, "voltage_A_V": 121.0,
                    "power_B_W": -678.25, "voltage_B_V": 121.5}
            for k, v in want.items():
                check(rec.get(k) == v, "wattnode %s = %r (got %r)" % (k, v, rec.get(k)))
            check("power_C_W" not in rec, "unconnected phase C is absent")
            check(99.5 not in rec.values(), "resettable EnergySum (1001) never printed")
            check(rec["time"].endswith("Z") and len(rec["time"]) == 20, "time is ISO UTC")

        rc, out, err = run("--device", "wattnode", "--port", dev_pvtap, "--format", "table",
                           *quick)
        check(rc == 0 and any(line.split() == ["energy_import_lifetime_kWh", "1234.5"]
                              for line in out.splitlines()), "table format")

        # A device that answers with an exception: exit 1 and say which.
        rc, out, err = run("--device", "wattnode", "--port", dev_pvtap, "--address", "3",
                           *quick)
        check(rc == 1 and "exception 2" in err and out == "",
              "exception response: exit 1, named (%d: %s)" % (rc, err.strip()))

        # --scan finds 1, 2 and 3 (3 answers with an exception), not 4..6.
        rc, out, err = run("--device", "wattnode", "--port", dev_pvtap, "--scan",
                           "--scan-range", "1-6", *quick)
        found = [json.loads(line) for line in out.splitlines() if line.strip()]
        addrs = [r["address"] for r in found]
        check(rc == 0 and addrs == [1, 2, 3], "--scan lists 1, 2, 3 (got %s)" % addrs)
        if addrs[:1] == [1]:
            check(found[0].get("serial") == "123456" and found[0].get("model") == 203,
                  "--scan names the WattNode by serial and model")

        # SunSpec over RTU: chain walk, model 1 strings, model 102 points.
        rc, out, err = run("--device", "sunspec", "--port", dev_pvtap, "--address", "2",
                           *quick)
        check(rc == 0, "sunspec RTU poll exits 0 (%d: %s)" % (rc, err.strip()))
        want_inv = {"device": "sunspec", "address": 2, "serial": "SN414051708000326",
                    "model": "SPR-X21-345", "power_W": 5883, "energy_lifetime_kWh": 1234.56,
                    "voltage_V": 240.03, "current_A": 24.5, "frequency_Hz": 60.01,
                    "dc_voltage_V": 380.1, "temperature_C": -5.2, "status": 4,
                    "status_text": "MPPT"}
        if rc == 0:
            rec = json.loads(out)
            for k, v in want_inv.items():
                check(rec.get(k) == v, "sunspec %s = %r (got %r)" % (k, v, rec.get(k)))
            check("dc_current_A" not in rec and "dc_power_W" not in rec,
                  "not-implemented points are absent")

        # SunSpec over TCP (--host), unit 126.
        rc, out, err = run("--device", "sunspec", "--host", "127.0.0.1", "--tcp-port",
                           str(tcp_port), "--address", "126")
        check(rc == 0, "sunspec TCP poll exits 0 (%d: %s)" % (rc, err.strip()))
        if rc == 0:
            rec = json.loads(out)
            check(rec.get("energy_lifetime_kWh") == 1234.56 and rec.get("power_W") == 5883,
                  "sunspec over TCP reads the same values")

        # Nobody at that address: a timeout, exit 1, a message that helps. (Last on
        # this bus: pymodbus's RTU framer keeps the unanswered request in its buffer
        # and misreads the next one or two.)
        t0 = time.time()
        rc, out, err = run("--device", "wattnode", "--port", dev_pvtap, "--address", "9",
                           "--timeout-ms", "200", *quick)
        check(rc == 1 and "no answer from address 9" in err and "A/B wiring" in err,
              "wrong address: exit 1 with a clear message (%d: %s)" % (rc, err.strip()))
        check(time.time() - t0 < 5, "wrong address gives up quickly")

        # Usage errors exit 2.
        for args in (["--device", "wattnode"], ["--device", "toaster", "--port", dev_pvtap],
                     ["--device", "wattnode", "--port", dev_pvtap, "--address", "248"],
                     ["--device", "wattnode", "--port", dev_pvtap, "--parity", "X"],
                     ["--device", "wattnode", "--host", "127.0.0.1"]):
            rc, out, err = run(*args)
            check(rc == 2, "usage error exits 2: %s" % " ".join(args[2:]))
        rc, out, err = run("--device", "wattnode", "--port", os.path.join(tmp, "nothing"),
                           *quick)
        check(rc == 1 and "cannot open" in err, "a missing port exits 1 and says so")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
    else:
        main()
