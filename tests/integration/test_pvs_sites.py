#!/usr/bin/python3
"""`pvtap poll --device pvs-api` against a fake supervisor serving each sample
site of tests/data/pvs/ (pvs_fake.py): the kind of each meter (consumption,
net, production) and its subtype, the counters, the flat varserver
variables of 2025 firmware in both answer shapes, the firmware named when a
supervisor answers no device; then the daemon storing a consumption meter.

Real answers published by owners, when a directory of them is given
(a folder named by PVTAP_REALDATA: tests/run-pvs-realdata.sh DIR),
go through the same fake: every DeviceList (devicelist*.json) and varserver
answer (varserver*.json, vars*.json) must print what pvs_expect.py works out
from the file itself. Without them that part is skipped, never failed.
"""
import glob
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvs_expect  # noqa: E402
import test_pvs_api as base  # noqa: E402
from pvs_fake import FakePVS  # noqa: E402

DATA = base.DATA
ok, run, objects = base.ok, base.run, base.objects

# The rule, site by site: what each meter of each sample must be.
SITES = {
    "devicelist_gross.json": {
        "PVS6M19420231c": ("consumption_meter", "GROSS_CONSUMPTION_LINESIDE"),
        "PVS6M19420231p": ("production_meter", "GROSS_PRODUCTION_SITE")},
    "devicelist_net_2025.json": {
        "PVS6M22134410c": ("net_meter", "NET_CONSUMPTION_LOADSIDE"),
        "PVS6M22134410p": ("production_meter", "GROSS_PRODUCTION_SITE")},
    "devicelist_notused.json": {
        "PVS6M20510087c": ("net_meter", "NOT_USED"),
        "PVS6M20510087p": ("production_meter", "GROSS_PRODUCTION_SITE")},
    "devicelist_zero_c.json": {
        "PVS5M508095c": ("net_meter", None),
        "PVS5M508095p": ("production_meter", None)},
    "devicelist.json": {
        "PVS6M20281736c": ("net_meter", "NET_CONSUMPTION_LOADSIDE"),
        "PVS6M20281736p": ("production_meter", "GROSS_PRODUCTION_SITE")},
}


def poll(url, *extra):
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", url, *extra)
    return rc, objects(out) if rc == 0 else [], err


def check_devicelist(path, label, kinds=None):
    fake = FakePVS(DATA, devicelist=path, vars_files=(), advance=False).start()
    try:
        rc, objs, err = poll(fake.url)
    finally:
        fake.stop()
    with open(path if os.path.isabs(path) else os.path.join(DATA, path)) as f:
        doc = json.load(f)
    bad = pvs_expect.mismatches(objs, pvs_expect.from_devicelist(doc))
    ok(rc == 0 and not bad, "%s: every device, kind, subtype and counter" % label,
       err + "\n".join(bad))
    got = {o.get("serial"): o for o in objs}
    for serial, (kind, subtype) in (kinds or {}).items():
        o = got.get(serial, {})
        ok(o.get("type") == kind and o.get("subtype") == subtype,
           "%s: %s is a %s (subtype %s)" % (label, serial, kind, subtype), o)


def sample_sites():
    for name, kinds in SITES.items():
        check_devicelist(name, name, kinds)
    # the 'c' meter that reads 0: present zeros, not absent values
    fake = FakePVS(DATA, devicelist="devicelist_zero_c.json", vars_files=(), advance=False).start()
    try:
        rc, objs, err = poll(fake.url)
    finally:
        fake.stop()
    c = {o.get("serial"): o for o in objs}.get("PVS5M508095c", {})
    ok(c.get("energy_net_lifetime_kWh") == 0 and c.get("power_W") == 0
       and c.get("energy_import_lifetime_kWh") == 0,
       "a 'c' meter without CTs reads 0 on its counters, printed as 0", c)


def flat_varserver(cert, key, pin):
    fake = FakePVS(DATA, tls=(cert, key), password=base.PASSWORD,
                   vars_files=("vars_flat_meter.json", "vars_flat_inverter.json"),
                   advance=False).start()
    try:
        docs = {}
        for name in ("vars_flat_meter.json", "vars_flat_inverter.json"):
            with open(os.path.join(DATA, name)) as f:
                docs.update(json.load(f))
        want = pvs_expect.from_vars(docs)
        for ignore_fmt in (False, True):
            fake.ignore_fmt = ignore_fmt
            fake.reset_log()
            rc, objs, err = poll(fake.url, "--tls-sha256", pin, "--password", base.PASSWORD)
            shape = "the values list (fmt ignored)" if ignore_fmt else "fmt=obj"
            bad = pvs_expect.mismatches(objs, want)
            ok(rc == 0 and len(objs) == 5 and not bad,
               "flat variables, %s: 2 meters, 3 inverters, counters" % shape,
               err + "\n".join(bad))
            paths = [r["path"] for r in fake.requests]
            ok(paths == ["/auth?login", "/vars?match=/sys/devices/meter/&fmt=obj",
                         "/vars?match=/sys/devices/inverter/&fmt=obj"],
               "flat variables, %s: asked by prefix, two queries" % shape, paths)
        c = {o.get("serial"): o for o in objs}.get("PVS6M23104512c", {})
        ok(c.get("type") == "net_meter" and "subtype" not in c,
           "a flat 'c' meter without a subtype variable is net", c)
    finally:
        fake.stop()


def flat_refused(cert, key, pin):
    """A build that refuses the flat queries (HTTP 400): the nested ones answer."""
    fake = FakePVS(DATA, tls=(cert, key), password=base.PASSWORD).start()
    fake.mode = "flat400"
    try:
        rc, objs, err = poll(fake.url, "--tls-sha256", pin, "--password", base.PASSWORD)
        ok(rc == 0 and len(objs) == 5, "flat queries refused with HTTP 400: the nested ones read",
           err)
        fake.vars_files = ()
        fake.variables = {}
        rc, objs, err = poll(fake.url, "--tls-sha256", pin, "--password", base.PASSWORD)
        ok(rc == 1 and "HTTP 400" in err, "refused flat and empty nested: the refusal is said",
           err)
    finally:
        fake.stop()


def no_devices(cert, key, pin, tmp):
    fake = FakePVS(DATA, tls=(cert, key), password=base.PASSWORD, vars_files=(),
                   sw_rev="2025.09.61845").start()
    try:
        rc, objs, err = poll(fake.url, "--tls-sha256", pin, "--password", base.PASSWORD)
        ok(rc == 1 and "firmware 2025.09.61845" in err
           and "neither the flat" in err and "nor the nested" in err,
           "no device in either shape: the firmware is named", err)
        ok("/vars?name=/sys/info/sw_rev" in [r["path"] for r in fake.requests],
           "the firmware is read from /sys/info/sw_rev", fake.requests)
    finally:
        fake.stop()
    only = os.path.join(tmp, "supervisor-only.json")
    with open(os.path.join(DATA, "devicelist.json")) as f:
        doc = json.load(f)
    doc["devices"] = [d for d in doc["devices"] if d.get("DEVICE_TYPE") == "PVS"]
    with open(only, "w") as f:
        json.dump(doc, f)
    fake = FakePVS(DATA, devicelist=only, vars_files=()).start()
    try:
        rc, objs, err = poll(fake.url)
        ok(rc == 1 and "firmware 2021.9, Build 41001" in err and "no inverter or meter" in err,
           "a DeviceList of the supervisor alone: its SWVER is named", err)
    finally:
        fake.stop()


def run_daemon(tmp, name, source, seconds=6):
    """pvtap run with one pvs-api source; (exit status, its pvs-api records, log)."""
    conf, db = os.path.join(tmp, name + ".conf"), os.path.join(tmp, name + ".db")
    with open(conf, "w") as f:
        f.write('site = { timezone = "UTC"; };\nstore = { path = "%s"; };\n' % db)
        f.write("sources = ( { type = \"pvs-api\"; interval_s = 1; timeout_s = 5; %s } );\n"
                % source)
    rt = os.path.join(tmp, name + "-rt")
    os.makedirs(rt, exist_ok=True)
    with open(os.path.join(tmp, name + ".log"), "w+") as log:
        p = subprocess.Popen([base.PVTAP, "run", "--no-drop", "--runtime-dir", rt, "-c", conf],
                             stdout=log, stderr=subprocess.STDOUT)
        time.sleep(seconds)
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        log.seek(0)
        text = log.read()
    con = sqlite3.connect(db)
    try:
        recs = con.execute("select device, kind, quantity, clock, time, value from records "
                           "where series = 'pvs-api'").fetchall()
    finally:
        con.close()
    return rc, recs, text


def daemon_gross(tmp):
    """The daemon stores the 'c' meter of a gross site as a consumption meter."""
    fake = FakePVS(DATA, devicelist="devicelist_gross.json", vars_files=()).start()
    try:
        # a gap of 150 s puts every poll near a boundary: its samples are kept
        rc, recs, text = run_daemon(tmp, "gross", 'url = "%s"; max_poll_gap_s = 150;' % fake.url)
    finally:
        fake.stop()
    kinds = {r[0]: r[1] for r in recs}
    ok(rc == 0 and kinds.get("PVS6M19420231c") == "consumption_meter"
       and kinds.get("PVS6M19420231p") == "production_meter",
       "the daemon stores the gross 'c' meter as a consumption meter", (kinds, text))
    ok("PVS6M19420231c (consumption_meter, subtype GROSS_CONSUMPTION_LINESIDE)" in text,
       "the daemon logs the meter's kind and subtype", text)
    # site.consumption_meter "auto" learnt gross from the supervisor, kept in the store
    conf = os.path.join(tmp, "gross.conf")
    p = subprocess.run([base.PVTAP, "config", "check", "-c", conf], capture_output=True,
                       text=True, timeout=30)
    ok(re.search(r"in force: .*gross.*supervisor", p.stdout) is not None,
       "auto learnt gross from the supervisor and the store keeps it", p.stdout + p.stderr)


def daemon_flat(tmp, cert, key, pin):
    """The daemon on the flat variables: records at msmtEps, counters moving."""
    fake = FakePVS(DATA, tls=(cert, key), password=base.PASSWORD,
                   vars_files=("vars_flat_meter.json", "vars_flat_inverter.json")).start()
    try:
        rc, recs, text = run_daemon(tmp, "flat", 'url = "%s"; password = "%s"; tls_sha256 = "%s";'
                                    % (fake.url, base.PASSWORD, pin))
        polls = fake.vars_steps
    finally:
        fake.stop()
    net = sorted((r[4], r[5]) for r in recs
                 if r[0] == "PVS6M23104512c" and r[2] == "energy_net_lifetime_kWh")
    ok(rc == 0 and polls >= 3 and len(net) >= 3 and all(r[3] == 1 and r[4] % 300 == 0
                                                       for r in recs),
       "flat variables in the daemon: %d polls, records at msmtEps on the grid" % polls,
       (recs[:6], text))
    ok(len({v for _, v in net}) == len(net) and {r[1] for r in recs if r[0] == "PVS6M23104512c"}
       == {"net_meter"}, "the flat 'c' meter's net counter moves, kind net meter", net)


def realdata_dir():
    d = os.environ.get("PVTAP_REALDATA")
    return d if d and os.path.isdir(d) else None


def real_answers(cert, key, pin):
    d = realdata_dir()
    if not d:
        print("# no real answers given (PVTAP_REALDATA): that part skipped")
        return
    lists = sorted(glob.glob(os.path.join(d, "devicelist*.json")))
    for path in lists:
        check_devicelist(os.path.abspath(path), "real " + os.path.basename(path))
    varfiles = sorted(glob.glob(os.path.join(d, "varserver*.json")) +
                      glob.glob(os.path.join(d, "vars*.json")))
    for path in varfiles:
        with open(path) as f:
            want = pvs_expect.from_vars(json.load(f))
        fake = FakePVS(DATA, tls=(cert, key), password=base.PASSWORD,
                       vars_files=(os.path.abspath(path),), advance=False).start()
        try:
            rc, objs, err = poll(fake.url, "--tls-sha256", pin, "--password", base.PASSWORD)
        finally:
            fake.stop()
        bad = pvs_expect.mismatches(objs, want)
        ok(rc == 0 and want and not bad,
           "real %s: every device, kind and counter" % os.path.basename(path),
           err + "\n".join(bad))
    print("# %d real answers read from %s" % (len(lists) + len(varfiles), d))


def main():
    if not base.PVTAP or not os.path.exists(base.PVTAP):
        base.skip("PVTAP not set")
    rc, out, err, _ = run("poll", "--help")
    if "pvs-api" not in out:
        base.skip("this pvtap has no pvs-api (built without libcurl)")
    if subprocess.run(["which", "openssl"], capture_output=True).returncode != 0:
        base.skip("no openssl CLI")
    with tempfile.TemporaryDirectory(prefix="pvtap-pvs-sites.") as tmp:
        cert, key, pin = base.make_cert(tmp, "pvs",
                                        ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        sample_sites()
        flat_varserver(cert, key, pin)
        flat_refused(cert, key, pin)
        no_devices(cert, key, pin, tmp)
        daemon_gross(tmp)
        daemon_flat(tmp, cert, key, pin)
        real_answers(cert, key, pin)
    print("%d passed, %d failed" % (base.passes, base.fails))
    sys.exit(1 if base.fails else 0)


if __name__ == "__main__":
    main()
