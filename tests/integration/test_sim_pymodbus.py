#!/usr/bin/python3
"""The virtual WattNode and SunSpec inverter (pvsim_rs485) checked with a
Modbus client nobody here wrote: Debian's python3-pymodbus, over the pty.
WattNode: CDAB floats decoded by pymodbus' own payload decoder, FC3 = FC4,
exceptions 01/02/03. SunSpec: walk the model chain from "SunS" at several
base addresses, apply scale factors, see the not-implemented sentinels."""
import os
import struct
import subprocess
import sys
import tempfile
import time

from need import need_module

# pymodbus.client imports its async serial client too, which needs serial_asyncio
need_module("serial_asyncio", "python3-serial-asyncio")
pymodbus = need_module("pymodbus", "python3-pymodbus")
from pymodbus.client import ModbusSerialClient  # noqa: E402
from pymodbus.constants import Endian  # noqa: E402
from pymodbus.payload import BinaryPayloadDecoder  # noqa: E402
from pymodbus.pdu import ExceptionResponse  # noqa: E402

SIM = os.path.join(os.environ["PVTAP_SIM"], "pvsim_rs485")
TMP = tempfile.mkdtemp()
PROCS = []
FAILS = []


def check(name, expected, actual):
    if expected == actual:
        print("ok   " + name)
    else:
        print("FAIL %s: expected %r got %r" % (name, expected, actual))
        FAILS.append(name)


def start(name, *args):
    ready = os.path.join(TMP, name + ".ready")
    link = os.path.join(TMP, name + ".tty")
    p = subprocess.Popen([SIM, *args, "--link", link, "--ready-file", ready, "--duration", "60"])
    PROCS.append(p)
    for _ in range(200):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            break
        time.sleep(0.02)
    else:
        raise SystemExit("simulator %s did not start" % name)
    # pymodbus 3.0 stores int(timeout): below 1 s it would not wait at all
    client = ModbusSerialClient(port=link, baudrate=9600, parity="N", stopbits=1, bytesize=8, timeout=1,
                                retries=0)
    if not client.connect():
        raise SystemExit("pymodbus could not open " + link)
    return client


def floats_cdab(regs):
    """pymodbus' decoder, told the word order is little (CDAB)."""
    dec = BinaryPayloadDecoder.fromRegisters(regs, byteorder=Endian.Big, wordorder=Endian.Little)
    return [dec.decode_32bit_float() for _ in range(len(regs) // 2)]


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def wattnode():
    c = start("wn", "--device", "wattnode", "--address", "3", "--power-w", "2500.75",
              "--import-kwh", "98765.4", "--export-kwh", "4321.5", "--voltage", "121.25",
              "--freq", "60.01", "--serial", "4026531841")
    rr = c.read_holding_registers(1000, 34, slave=3)       # 1001..1034: wire 1000
    check("FC3 1001 x34 answers", False, rr.isError())
    v = floats_cdab(rr.registers)
    check("PowerSum 1009", f32(2500.75), v[4])
    check("EnergySumNR 1005 = import - export", f32(98765.4 - 4321.5), v[2])
    check("EnergyPosSumNR 1007", f32(98765.4), v[3])
    check("VoltAvgLN 1017", f32(121.25), v[8])
    check("Freq 1033", f32(60.01), v[16])
    ri = c.read_input_registers(1000, 34, slave=3)
    check("FC4 reads the same data", rr.registers, ri.registers)
    r = c.read_input_registers(1112, 4, slave=3)           # 1113..1116
    check("EnergyNegSumNR 1115", f32(4321.5), floats_cdab(r.registers)[1])
    r = c.read_holding_registers(1700, 2, slave=3)
    dec = BinaryPayloadDecoder.fromRegisters(r.registers, byteorder=Endian.Big, wordorder=Endian.Little)
    check("SerialNumber 1701 (uint32 CDAB)", 4026531841, dec.decode_32bit_uint())
    r = c.read_holding_registers(1006, 2, slave=3)
    check("1.005-style raw words: low word first", list(struct.unpack(">HH", struct.pack(">f", f32(98765.4)))[::-1]),
          r.registers)
    # exceptions
    r = c.read_holding_registers(1100, 1, slave=3)
    check("unmapped -> exception 02", (True, 2), (isinstance(r, ExceptionResponse), getattr(r, "exception_code", None)))
    r = c.read_holding_registers(1000, 126, slave=3)
    check("count 126 -> exception 03", (True, 3), (isinstance(r, ExceptionResponse), getattr(r, "exception_code", None)))
    r = c.write_register(1000, 5, slave=3)
    check("write (FC6) -> exception 01", (True, 1), (isinstance(r, ExceptionResponse), getattr(r, "exception_code", None)))
    r = c.read_holding_registers(1000, 2, slave=4)
    check("another slave -> no answer", True, r.isError() and not isinstance(r, ExceptionResponse))
    c.close()


def walk_sunspec(c, base, unit):
    """Generic SunSpec discovery: find 'SunS', then follow (ID, L) to 0xFFFF."""
    r = c.read_holding_registers(base, 2, slave=unit)
    if r.isError() or r.registers != [0x5375, 0x6E53]:
        return None
    models = {}
    addr = base + 2
    while True:
        hdr = c.read_holding_registers(addr, 2, slave=unit).registers
        mid, length = hdr
        if mid == 0xFFFF:
            break
        body = c.read_holding_registers(addr + 2, length, slave=unit).registers if length else []
        models[mid] = body
        addr += 2 + length
    return models


def sstr(regs):
    return b"".join(struct.pack(">H", x) for x in regs).rstrip(b"\0").decode()


def s16(x):
    return x - 0x10000 if x & 0x8000 else x


def sunspec():
    for base in (40000, 40001, 50000):
        c = start("ss%d" % base, "--device", "sunspec", "--base", str(base), "--power-w", "2345.6",
                  "--energy-kwh", "12345.678", "--voltage", "239.9", "--freq", "59.95",
                  "--sn", "SIM-42", "--w-sf", "-1", "--model", "103")
        models = None
        for probe in (40000, 40001, 50000):                 # what a poller would try
            models = walk_sunspec(c, probe, 126)
            if models:
                check("SunS found at %d (sim base %d)" % (probe, base), base, probe)
                break
        check("models 1 and 103 (base %d)" % base, [1, 103], sorted(models or {}))
        m1, m = models[1], models[103]
        check("model 1 Mn/SN", ("SMA", "SIM-42"), (sstr(m1[0:16]), sstr(m1[48:64])))
        check("model 1 DA = unit", 126, m1[64])
        w = s16(m[12]) * 10 ** s16(m[13])
        check("W with W_SF -1", 2345.6, round(w, 3))
        wh = (m[22] << 16 | m[23]) * 10 ** s16(m[24])
        check("WH acc32 with WH_SF", 12345678, wh)
        check("PhVphA", 239.9, round(m[8] * 10 ** s16(m[11]), 3))
        check("Hz", 59.95, round(m[14] * 10 ** s16(m[15]), 3))
        check("St = MPPT", 4, m[36])
        c.close()
    c = start("ssni", "--device", "sunspec", "--unit", "5", "--unimpl", "W,TmpCab,St,WH,DCV")
    m = walk_sunspec(c, 40000, 5)[101]
    check("not implemented: W 0x8000, TmpCab 0x8000, St 0xFFFF, WH 0, DCV 0xFFFF",
          [0x8000, 0x8000, 0xFFFF, 0, 0, 0xFFFF], [m[12], m[31], m[36], m[22], m[23], m[27]])
    check("single phase: AphB 0xFFFF", 0xFFFF, m[2])
    c.close()


try:
    print("pymodbus", pymodbus.__version__)
    wattnode()
    sunspec()
finally:
    for p in PROCS:
        p.terminate()
        p.wait()
    for name in os.listdir(TMP):
        os.unlink(os.path.join(TMP, name))
    os.rmdir(TMP)
sys.exit(1 if FAILS else 0)
