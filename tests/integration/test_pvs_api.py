#!/usr/bin/python3
"""The pvs-api source against a fake supervisor on loopback (pvs_fake.py):
`pvtap poll --device pvs-api` on both API generations, time-outs, 401/403,
a PVS2's HTML, TLS pinning (first contact, the right pin, a wrong one),
session renewal; then `pvtap run` with pvs-api sources into a store:
records under series "pvs-api", intervals, a meter that vanishes.

Certificates are made here with the openssl CLI and their pins computed
with it, independently of pvtap.
"""
import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from need import need_tool, skip  # noqa: E402
from pvs_fake import (FakePVS, INVERTER_STEP_KWH, IMPORT_STEP_KWH,  # noqa: E402
                      EXPORT_STEP_KWH)

PVTAP = os.environ.get("PVTAP")
DATA = os.path.join(os.environ.get("PVTAP_DATA", ""), "pvs")
PASSWORD = "C1876"  # the last 5 characters of ZT163485000441C1876

fails = 0
passes = 0


def ok(cond, what, detail=""):
    global fails, passes
    if cond:
        passes += 1
        print("ok -", what)
    else:
        fails += 1
        print("not ok -", what)
        if detail:
            for line in str(detail).splitlines()[:25]:
                print("  |", line)


def run(*args, env=None, timeout=60):
    t0 = time.monotonic()
    p = subprocess.run([PVTAP, *args], capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def objects(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def by_serial(objs):
    return {o.get("serial"): o for o in objs}


def make_cert(tmp, name, keyspec):
    key, cert = os.path.join(tmp, name + ".key"), os.path.join(tmp, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", keyspec[0], *keyspec[1:], "-nodes",
                    "-keyout", key, "-out", cert, "-days", "3", "-subj", "/CN=pvs6.local"],
                   check=True, capture_output=True)
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-binary"], input=der, check=True,
                            capture_output=True).stdout
    return cert, key, "sha256//" + base64.b64encode(digest).decode()


# ---- pvtap poll: DeviceList ------------------------------------------------------

def poll_devicelist(fake):
    fake.mode = "ok"
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url + "/")
    ok(rc == 0, "DeviceList poll exits 0", err)
    objs = objects(out)
    ok(len(objs) == 6, "one object per device (supervisor, 2 meters, 3 inverters)", out)
    d = by_serial(objs)
    sup = d.get("ZT163485000441C1876", {})
    ok(sup.get("type") == "supervisor" and sup.get("firmware") == "2021.9, Build 41001",
       "supervisor with its firmware", sup)
    c = d.get("PVS6M20281736c", {})
    ok(c.get("type") == "net_meter" and c.get("power_W") == -2451.7
       and c.get("energy_net_lifetime_kWh") is not None
       and abs(c["energy_import_lifetime_kWh"] - c["energy_export_lifetime_kWh"]
               - c["energy_net_lifetime_kWh"]) < 0.005,
       "the c meter: net meter, kW -> W, net = import - export", c)
    ok(c.get("power_L1_W") == -1302.1 and c.get("voltage_L2_V") == 122.4204
       and c.get("current_L1_A") == 10.6512, "the c meter's legs", c)
    p = d.get("PVS6M20281736p", {})
    ok(p.get("type") == "production_meter" and p.get("power_W") == 3821.1,
       "the p meter: production meter", p)
    inv = d.get("E00121936040123", {})
    want = {"type": "inverter", "model": "AC_Module_Type_E", "power_W": 296.3,
            "voltage_V": 245.03, "current_A": 1.21, "frequency_Hz": 60.0096,
            "dc_power_W": 305.1, "dc_voltage_V": 56.0065, "dc_current_A": 5.4478,
            "temperature_C": 38, "status": 0, "status_text": "working"}
    ok(all(inv.get(k) == v for k, v in want.items()),
       "an inverter's keys (p_mpptsum_kw as dc_power_W on older firmware)", inv)
    asleep = d.get("E00122308008125", {})
    ok("power_W" not in asleep and asleep.get("status") == 4
       and asleep.get("status_text") == "error",
       "an empty value is absent, never 0", asleep)
    ok(all(r["authorization"] is None for r in fake.requests),
       "no credentials sent to the DeviceList")
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--format", "table")
    ok(rc == 0 and "energy_lifetime_kWh" in out and "E00122307107854" in out,
       "--format table", out + err)


def poll_devicelist_failures(fake):
    fake.mode = "slow"
    fake.slow_s = 6
    rc, out, err, took = run("poll", "--device", "pvs-api", "--url", fake.url,
                             "--timeout-s", "2")
    ok(rc == 1 and "within 2 s" in err and took < 5.5,
       "a slow answer times out after --timeout-s (%.1f s)" % took, err)
    for status in ("401", "403"):
        fake.mode = status
        rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url)
        ok(rc == 1 and "login mode changed" in err and "HTTP " + status in err,
           "DeviceList %s: says the login mode changed" % status, err)
    fake.mode = "html"
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url)
    ok(rc == 1 and "HTML" in err and "PVS2" in err and out == "",
       "HTML (a PVS2): unsupported, said plainly", err)
    fake.mode = "500"
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url)
    ok(rc == 1 and "HTTP 500" in err, "HTTP 500 is a runtime failure", err)
    fake.mode = "ok"
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url",
                          fake.url + "/cgi-bin/dl_cgi?Command=DeviceList")
    ok(rc == 2 and "base URL" in err, "a full DeviceList URL is a usage error", err)
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--password", "x")
    ok(rc == 2 and "https" in err and "x" not in err.replace("https", "").replace("exit", ""),
       "a password over http:// is refused", err)
    rc, out, err, _ = run("poll", "--device", "pvs-api")
    ok(rc == 2 and "--url" in err, "--url is required", err)
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", "http://127.0.0.1:9")
    ok(rc == 1 and "127.0.0.1:9" in err, "nothing listening: exit 1, the URL named", err)


# ---- pvtap poll: the varserver over pinned TLS --------------------------------------

def poll_vars(fake, pin, other_pin):
    fake.mode = "ok"
    fake.reset_log()
    # First contact: no pin. Only a handshake; the pin is printed; refused.
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url,
                          "--password", PASSWORD)
    ok(rc == 1 and pin in err and "tls_sha256" in err and out == "",
       "first contact: the certificate's pin is printed and the poll refused", err)
    ok(fake.requests == [], "first contact sent no request (no credentials)",
       fake.requests)
    ok(PASSWORD not in err, "the password is not printed")

    fake.reset_log()
    logins0 = fake.logins
    env = dict(os.environ, PVTAP_PVS_PASSWORD=PASSWORD)
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256", pin,
                          env=env)
    ok(rc == 0, "varserver poll with the right pin (password from the environment)", err)
    objs = objects(out)
    d = by_serial(objs)
    ok(len(objs) == 5, "2 meters and 3 inverters", out)
    c = d.get("PVS6M20281736c", {})
    ok(c.get("type") == "net_meter" and c.get("time") == fake.eps()
       and c.get("power_W") == -2451.7,
       "the c meter at its msmtEps", c)
    inv = d.get("E00122307107854", {})
    ok(inv.get("power_W") == 312.7 and inv.get("dc_power_W") == 321.2
       and inv.get("temperature_C") == 41, "numeric strings read as numbers", inv)
    paths = [r["path"] for r in fake.requests]
    ok(paths == ["/auth?login", "/vars?match=/sys/devices/meter/&fmt=obj",
                 "/vars?match=meter/data&fmt=obj", "/vars?match=inverter/data&fmt=obj"],
       "login, the flat meters (none), then the nested meters and inverters", paths)
    ok(fake.requests and fake.requests[0]["authorization"]
       and all(r["authorization"] is None and "session=" in (r["cookie"] or "")
               for r in fake.requests[1:]),
       "credentials go to the login only; the queries carry the session cookie",
       fake.requests)
    ok(fake.logins == logins0 + 1, "one login")

    # Sessions that expire after each answer: renewed once per query.
    fake.expire_sessions = True
    fake.reset_log()
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256", pin,
                          "--password", PASSWORD)
    fake.expire_sessions = False
    logins = [r["path"] for r in fake.requests].count("/auth?login")
    queries = len({r["path"] for r in fake.requests if r["path"].startswith("/vars")})
    ok(rc == 0 and len(objects(out)) == 5 and logins == queries == 3,
       "an expired session is renewed by a new login (%d logins, %d queries)"
       % (logins, queries), err)

    # A wrong password, and data refused right after a login.
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256", pin,
                          "--password", "WRONG")
    ok(rc == 1 and "refused the login" in err and "login mode changed" in err
       and "WRONG" not in err, "a refused login: said plainly, password not echoed", err)
    fake.mode = "vars403"
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256", pin,
                          "--password", PASSWORD)
    ok(rc == 1 and "HTTP 403" in err and "login mode changed" in err,
       "403 on the data after a login: the login mode changed", err)
    fake.mode = "html"
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256", pin,
                          "--password", PASSWORD)
    ok(rc == 1 and "HTML" in err, "HTML from /vars: refused", err)
    fake.mode = "ok"

    # A wrong pin: refused before any request; the seen key is named.
    fake.reset_log()
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256",
                          other_pin, "--password", PASSWORD)
    ok(rc == 1 and "refusing" in err and pin in err and out == "",
       "a wrong pin is refused and the server's key named", err)
    ok(fake.requests == [], "no request reached the server with a wrong pin", fake.requests)
    # The hex form of the same pin works too.
    hexpin = base64.b64decode(pin[len("sha256//"):]).hex(":")
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256",
                          hexpin, "--password", PASSWORD)
    ok(rc == 0 and len(objects(out)) == 5, "the pin in hex with colons", err)
    rc, out, err, _ = run("poll", "--device", "pvs-api", "--url", fake.url, "--tls-sha256",
                          "sha256//tooshort", "--password", PASSWORD)
    ok(rc == 2, "a malformed pin is a usage error", err)


# ---- the daemon -------------------------------------------------------------------

def run_daemon(tmp, name, source_conf, seconds):
    conf = os.path.join(tmp, name + ".conf")
    db = os.path.join(tmp, name + ".db")
    with open(conf, "w") as f:
        f.write('site = { timezone = "UTC"; };\n')
        f.write('store = { path = "%s"; };\n' % db)
        f.write("sources = ( %s );\n" % source_conf)
    rc, out, err, _ = run("config", "check", "-c", conf)
    ok(rc == 0 and PASSWORD not in out + err, "%s: config check passes, password redacted"
       % name, out + err)
    rt = os.path.join(tmp, name + "-rt")
    os.makedirs(rt, exist_ok=True)
    logf = open(os.path.join(tmp, name + ".log"), "w+")
    p = subprocess.Popen([PVTAP, "run", "--no-drop", "--runtime-dir", rt, "-c", conf],
                         stdout=logf, stderr=subprocess.STDOUT)
    time.sleep(seconds)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    took = time.monotonic() - t0
    logf.seek(0)
    log = logf.read()
    logf.close()
    ok(rc == 0, "%s: the daemon exits 0 on SIGTERM (%.1f s)" % (name, took), log)
    ok(PASSWORD not in log, "%s: the password is never logged" % name)
    return db, log


def records(db, where=""):
    con = sqlite3.connect(db)
    try:
        return con.execute("select series, device, kind, quantity, clock, time, value "
                           "from records " + where).fetchall()
    finally:
        con.close()


def daemon_vars(tmp, fake, pin):
    fake.mode = "ok"
    fake.expire_sessions = False
    steps0 = fake.vars_steps
    db, log = run_daemon(tmp, "vars",
                         '{ type = "pvs-api"; url = "%s"; password = "%s"; tls_sha256 = "%s";'
                         ' interval_s = 1; timeout_s = 5; }' % (fake.url, PASSWORD, pin), 6)
    polls = fake.vars_steps - steps0
    ok(polls >= 3, "the daemon polled the varserver (%d polls in 6 s)" % polls, log)
    recs = records(db, "where series = 'pvs-api'")
    devices = {r[1] for r in recs}
    ok({"E00121936040123", "E00122307107854", "E00122308008125",
        "PVS6M20281736c"} <= devices, "records of every inverter and the net meter", recs[:10])
    ok(recs and all(r[5] % 300 == 0 for r in recs),
       "varserver records are at msmtEps, on the 5-minute grid", recs[:5])
    quantities = {r[3] for r in recs if r[1] == "PVS6M20281736c"}
    ok({"energy_net_lifetime_kWh", "energy_import_lifetime_kWh",
        "energy_export_lifetime_kWh"} <= quantities, "the net meter's three counters",
       quantities)
    rc, out, err, _ = run("intervals", "--db", db, "--series", "pvs-api", "--from",
                          "2000-01-01T00:00:00Z", "--format", "csv")
    rows = [line.split(",") for line in out.strip().splitlines()[1:]]
    want_prod = round(3 * INVERTER_STEP_KWH * 1000, 1)
    want_net = round((IMPORT_STEP_KWH - EXPORT_STEP_KWH) * 1000, 1)
    good = [r for r in rows if r[1] == "pvs-api" and float(r[2]) == want_prod
            and float(r[3]) == want_net and float(r[4]) == round(want_prod + want_net, 1)
            and r[5] == ""]
    ok(rc == 0 and len(rows) >= 2 and len(good) == len(rows),
       "intervals of series pvs-api: %d rows of %.1f Wh production, %.1f Wh net"
       % (len(rows), want_prod, want_net), out + err)
    rc, out, err, _ = run("compare", "--db", db, "--a", "pvs-api", "--b", "sniff", "--from",
                          "2000-01-01T00:00:00Z", "--format", "csv")
    ok(rc == 0 and ("%d only in pvs-api" % len(rows)) in out + err,
       "compare lines series pvs-api up (against an empty sniff series)", out + err)


def daemon_devicelist(tmp, fake):
    fake.mode = "ok"
    fake.vanish_after = fake.dl_answers + 2
    db, log = run_daemon(tmp, "devicelist",
                         '{ type = "pvs-api"; url = "%s"; interval_s = 1; timeout_s = 5;'
                         ' max_poll_gap_s = 150; }' % fake.url, 6)
    fake.vanish_after = None
    recs = records(db, "where series = 'pvs-api'")
    ok(recs and all(r[4] == 2 for r in recs),
       "DeviceList records use the poll clock (%d records)" % len(recs), recs[:5])
    inv = [r for r in recs if r[1] == "E00121936040123" and r[3] == "energy_lifetime_kWh"]
    ok(len(inv) >= 3 and len({r[6] for r in inv}) == len(inv),
       "an inverter's counter at each poll", inv)
    c = [r for r in recs if r[1] == "PVS6M20281736c"]
    ok(c and {r[2] for r in c} == {"net_meter"}, "the c meter is the net meter", c[:3])
    ok("PVS6M20281736c" in log and "missing from the supervisor's device list" in log,
       "a vanished meter is said", log)
    ok("interval_s = 1" in log, "a test interval below 120 s is warned about", log)


def config_errors(tmp):
    cases = [
        ('{ type = "pvs-api"; }', "url"),
        ('{ type = "pvs-api"; url = "ftp://pvs"; }', "http:// or https://"),
        ('{ type = "pvs-api"; url = "http://172.27.153.1"; password = "S3CR7"; }', "https://"),
        ('{ type = "pvs-api"; url = "http://172.27.153.1"; tls_sha256 = "sha256//x"; }',
         "tls_sha256"),
        ('{ type = "pvs-api"; url = "https://pvs"; tls_sha256 = "abc"; }', "pin"),
        ('{ type = "pvs-api"; url = "https://pvs"; interval_s = 0; }', "interval_s"),
        ('{ type = "pvs-api"; url = "https://pvs"; timeout_s = 900; }', "timeout_s"),
        ('{ type = "pvs-api"; url = "https://pvs"; port = "/dev/ttyUSB0"; }', "port"),
    ]
    for i, (src, want) in enumerate(cases):
        conf = os.path.join(tmp, "bad%d.conf" % i)
        with open(conf, "w") as f:
            f.write('site = { timezone = "UTC"; };\n\nsources = (\n  %s\n);\n' % src)
        rc, out, err, _ = run("config", "check", "-c", conf)
        ok(rc == 2 and (conf + ":4:") in err and want in err and "S3CR7" not in out + err,
           "config error %d names FILE:LINE and %s" % (i, want), err)


def main():
    if not PVTAP or not os.path.exists(PVTAP):
        skip("PVTAP not set")
    rc, out, err, _ = run("poll", "--help")
    if "pvs-api" not in out:
        skip("this pvtap has no pvs-api (built without libcurl)")
    need_tool("openssl", "openssl")
    with tempfile.TemporaryDirectory(prefix="pvtap-pvs.") as tmp:
        cert, key, pin = make_cert(tmp, "pvs", ["ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        _, _, other_pin = make_cert(tmp, "other", ["rsa:2048"])
        plain = FakePVS(DATA).start()
        tls = FakePVS(DATA, tls=(cert, key), password=PASSWORD).start()
        try:
            config_errors(tmp)
            poll_devicelist(plain)
            poll_devicelist_failures(plain)
            poll_vars(tls, pin, other_pin)
            daemon_vars(tmp, tls, pin)
            daemon_devicelist(tmp, plain)
        finally:
            plain.stop()
            tls.stop()
    print("%d passed, %d failed" % (passes, fails))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
