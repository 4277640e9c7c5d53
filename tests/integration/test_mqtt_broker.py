#!/usr/bin/python3
# The mqtt sink against a real mosquitto broker: HA discovery checked field by field, a replayed
# day's site/state equal to sums of `pvtap intervals`, a broker outage losing nothing, the
# retained "offline" on a clean stop and the last will on kill -9, username/password.
import csv
import io
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from need import need_tool

PVTAP = os.environ["PVTAP"]
DATA = os.environ["PVTAP_DATA"]
TZ = "America/Los_Angeles"
SITE = "Test Site"
FAILS = []


def ok(cond, what):
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


MOSQUITTO = need_tool("mosquitto", "mosquitto")
need_tool("mosquitto_passwd", "mosquitto")
need_tool("mosquitto_sub", "mosquitto-clients")
if subprocess.run([PVTAP, "config", "check", "-c", "/dev/null"], capture_output=True).returncode not in (0, 2):
    sys.exit(1)

TMP = tempfile.mkdtemp(prefix="pvtap-mqtt.")
CHILDREN = []  # killed at the end, whatever happens: none may outlive the test


def spawn(args, **kw):
    kw.setdefault("stderr", subprocess.DEVNULL)
    p = subprocess.Popen(args, **kw)
    CHILDREN.append(p)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, name, port, passwd=None):
        self.port = port
        self.conf = os.path.join(TMP, name + ".conf")
        lines = [f"listener {port} 127.0.0.1", "persistence false"]
        if os.geteuid() == 0:  # else it drops to "mosquitto", who cannot read our temp dir
            lines.append("user " + pwd.getpwuid(os.geteuid()).pw_name)
        if passwd:
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines += ["allow_anonymous true"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(TMP, name + ".log"), "ab")
        self.proc = None

    def start(self):
        self.proc = spawn([MOSQUITTO, "-c", self.conf], stdout=self.log, stderr=self.log)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("broker did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


def retained(port, topics=("pvtap/#", "homeassistant/#"), auth=()):
    """Every retained message under topics: {topic: payload}."""
    args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "--retained-only", "-W", "1",
            "-F", "%t\t%p", *auth]
    for t in topics:
        args += ["-t", t]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    msgs = {}
    for line in out.splitlines():
        if "\t" in line:
            t, p = line.split("\t", 1)
            msgs[t] = p
    return msgs


class Subscriber:
    """Everything published under pvtap/ while it runs (retained or not)."""

    def __init__(self, port, name):
        self.path = os.path.join(TMP, name + ".sub")
        self.f = open(self.path, "w")
        self.proc = spawn(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                                      "-t", "pvtap/#", "-F", "%t\t%p"], stdout=self.f)
        time.sleep(0.3)

    def messages(self):
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait(5)
        self.f.close()
        with open(self.path) as f:
            return [tuple(l.rstrip("\n").split("\t", 1)) for l in f if "\t" in l]


def write_conf(name, port, extra=""):
    path = os.path.join(TMP, name + ".pvtap.conf")
    with open(path, "w") as f:
        f.write(f'site = {{ timezone = "{TZ}"; name = "{SITE}"; production = "inverters"; }};\n'
                f'sources = ( {{ type = "sniff"; file = "{DATA}/sample-day.pcap"; }} );\n'
                f'mqtt = {{ host = "127.0.0.1"; port = {port}; {extra} }};\n')
    return path


def run_idle(conf, db, timeout=60):
    return subprocess.run([PVTAP, "run", "-c", conf, "--db", db, "--until-idle", "--no-drop",
                           "--runtime-dir", os.path.join(TMP, "rt")],
                          capture_output=True, text=True, timeout=timeout)


def intervals(db):
    out = subprocess.run([PVTAP, "intervals", "--db", db, "--series", "sniff", "--format", "csv"],
                         capture_output=True, text=True, check=True).stdout
    return list(csv.DictReader(io.StringIO(out)))


def expected_state(rows):
    """site/state of the last row, from the CSV alone (the README's "site/state" rules)."""
    tz = ZoneInfo(TZ)

    def local_date(r):
        t = datetime.strptime(r["interval_end"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return t.astimezone(tz).date()

    last = rows[-1]
    today = [r for r in rows if local_date(r) == local_date(last)]

    def sums(rs):
        s = {}
        for r in rs:
            for q in ("production", "consumption", "net"):
                v = r[q + "_wh"]
                if v != "":
                    s[q] = s.get(q, 0) + round(float(v) * 10)
            if r["net_wh"] != "":  # no counters in a sniffed day: the sign of net
                n = round(float(r["net_wh"]) * 10)
                s["import"] = s.get("import", 0) + max(n, 0)
                s["export"] = s.get("export", 0) + max(-n, 0)
        return {k: v / 10000 for k, v in s.items()}

    want = {"interval_end": last["interval_end"], "series": "sniff"}
    for q in ("production", "net", "consumption"):
        if last[q + "_wh"] != "":
            want[q + "_wh"] = float(last[q + "_wh"])
    for period, rs in (("today", today), ("total", rows)):
        for q, v in sums(rs).items():
            want[f"{q}_{period}_kWh"] = v
    return want


def close(a, b):
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) < 1e-6


def check_state(state, rows, what):
    want = expected_state(rows)
    bad = [k for k, v in want.items()
           if not (state.get(k) == v if isinstance(v, str) else close(state.get(k), v))]
    extra = [k for k in state if k not in want and k not in ("flags", "import_wh", "export_wh")]
    ok(not bad and not extra, f"{what}: site/state equals sums of pvtap intervals"
       + (f" (differ: {[(k, state.get(k), want.get(k)) for k in bad]}, extra {extra})" if bad or extra else ""))


def check_discovery(msgs):
    """HA's MQTT sensor discovery schema, field by field."""
    configs = {t: json.loads(p) for t, p in msgs.items()
               if t.startswith("homeassistant/sensor/") and t.endswith("/config")}
    ok(len(configs) > 0, f"{len(configs)} discovery configs retained")
    unique = set()
    seen_keys = set()
    for topic, c in configs.items():
        parts = topic.split("/")
        good = (len(parts) == 4 and all(ch.isalnum() or ch in "_-" for ch in parts[2]))
        for field in ("name", "unique_id", "state_topic", "value_template", "availability_topic", "device"):
            good &= field in c
        if not good:
            ok(False, f"{topic}: topic shape or a required field")
            continue
        unique.add(c["unique_id"])
        state = msgs.get(c["state_topic"])
        tmpl = c["value_template"]
        key = tmpl[len("{{ value_json."):-len(" }}")] if tmpl.startswith("{{ value_json.") and tmpl.endswith(" }}") else None
        # live is not retained: its keys are checked against the message seen during the run
        if c["state_topic"] != "pvtap/site/live":
            ok(state is not None and key is not None and key in json.loads(state),
               f"{parts[2]}: value_template key {key} in the retained {c['state_topic']}")
        seen_keys.add(key)
        dev = c["device"]
        ok(isinstance(dev, dict) and isinstance(dev.get("identifiers"), list) and dev["identifiers"]
           and all(isinstance(i, str) for i in dev["identifiers"]), f"{parts[2]}: device identifiers")
        ok(c["availability_topic"] == "pvtap/status" and c.get("payload_available", "online") == "online"
           and c.get("payload_not_available", "offline") == "offline", f"{parts[2]}: availability")
        dc = c.get("device_class")
        if dc == "energy":
            ok(c.get("unit_of_measurement") in ("kWh", "Wh") and c.get("state_class") in ("total", "total_increasing"),
               f"{parts[2]}: energy sensor has kWh and total/total_increasing")
        if dc == "power":
            ok(c.get("unit_of_measurement") == "W" and c.get("state_class") == "measurement", f"{parts[2]}: power sensor")
    ok(len(unique) == len(configs), "unique_ids are unique")
    for key, sc in (("production_total_kWh", "total_increasing"), ("consumption_total_kWh", "total_increasing"),
                    ("import_total_kWh", "total_increasing"), ("export_total_kWh", "total_increasing"),
                    ("net_total_kWh", "total")):
        c = [v for v in configs.values() if v["value_template"] == "{{ value_json.%s }}" % key]
        ok(len(c) == 1 and c[0]["device_class"] == "energy" and c[0]["unit_of_measurement"] == "kWh"
           and c[0]["state_class"] == sc and c[0]["state_topic"] == "pvtap/site/state",
           f"{key}: energy, kWh, {sc}, on pvtap/site/state")
    return configs


def intervals_published(msgs):
    return {json.loads(p)["interval_end"] for t, p in msgs if t == "pvtap/site/interval"}


def main():
    # ---- (1) + (2): a replayed day, discovery and state ----------------------------
    port = free_port()
    b = Broker("open", port)
    b.start()
    sub = Subscriber(port, "day")
    conf = write_conf("day", port)
    db = os.path.join(TMP, "day.db")
    r = run_idle(conf, db)
    ok(r.returncode == 0, f"replayed day with a broker: exit {r.returncode}" + ("" if r.returncode == 0 else r.stderr[-500:]))
    seen = sub.messages()
    msgs = retained(port)
    rows = intervals(db)
    ok(len(rows) > 200, f"{len(rows)} intervals in the store")
    configs = check_discovery(msgs)
    live = [json.loads(p) for t, p in seen if t == "pvtap/site/live"]
    ok(live and all(k in live[-1] for k in ("time", "production_W", "net_W", "consumption_W")),
       "site/live carries production_W, net_W, consumption_W")
    for c in configs.values():
        if c["state_topic"] == "pvtap/site/live":
            key = c["value_template"][len("{{ value_json."):-3]
            ok(key in live[-1], f"live sensor key {key} in site/live")
    state = json.loads(msgs.get("pvtap/site/state", "{}"))
    check_state(state, rows, "replayed day")
    ok(intervals_published(seen) == {r["interval_end"] for r in rows},
       "every interval published on site/interval")
    devs = [t for t in msgs if t.startswith("pvtap/device/") and t.endswith("/state")]
    ok(len(devs) >= 2 and all("serial" in json.loads(msgs[t]) for t in devs), f"{len(devs)} device states retained")
    ok(json.loads(msgs.get("pvtap/alerts", "null")) == [], "alerts retained, none active")
    ok(msgs.get("pvtap/status") == "offline", "retained offline after the clean stop of --until-idle")
    states = [json.loads(p) for t, p in seen if t == "pvtap/site/state"]
    mono = all(b2[k] >= a[k] for a, b2 in zip(states, states[1:]) for k in a
               if k.endswith("_total_kWh") and not k.startswith("net") and k in b2)
    ok(mono, f"{len(states)} site/state messages, totals never down")

    # ---- (4) clean stop and last will ------------------------------------------
    runner = [PVTAP, "run", "-c", conf, "--db", db, "--no-drop", "--runtime-dir", os.path.join(TMP, "rt")]
    p = spawn(runner, stdout=subprocess.DEVNULL)

    def wait_status(want, secs=10):
        deadline = time.time() + secs
        while time.time() < deadline:
            if retained(port, ("pvtap/status",)).get("pvtap/status") == want:
                return True
        return False

    ok(wait_status("online"), "retained online while running")
    # HA restarts: it says online on its status topic and gets discovery again
    disc = spawn(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "homeassistant/sensor/#",
                             "-F", "%r %t", "-W", "3"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "homeassistant/status", "-m", "online"])
    out = disc.communicate(timeout=10)[0]
    fresh = [l for l in out.splitlines() if l.startswith("0 ")]
    ok(len(fresh) >= 5, f"discovery re-sent after HA's online ({len(fresh)} configs)")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(10)
    ok(rc == 0, f"SIGTERM: exit {rc}")
    ok(retained(port, ("pvtap/status",)).get("pvtap/status") == "offline", "retained offline after a clean stop")
    p = spawn(runner, stdout=subprocess.DEVNULL)
    ok(wait_status("online"), "online again on restart")
    p.kill()
    p.wait(5)
    ok(wait_status("offline", 10), "last will offline (retained) after kill -9")
    b.stop()

    # ---- (3) the broker down, then up: nothing lost ------------------------------
    port2 = free_port()
    b2 = Broker("outage", port2)
    conf2 = write_conf("outage", port2)
    db2 = os.path.join(TMP, "outage.db")
    t0 = time.time()
    r = run_idle(conf2, db2)
    rows2 = intervals(db2)
    ok(r.returncode == 1, f"broker down: exit {r.returncode} after {time.time() - t0:.1f} s")
    ok(f"{len(rows2)} intervals pending" in r.stderr and "mqtt" in r.stderr,
       f"the reason names the pending count: {r.stderr.strip().splitlines()[-1:]}")
    b2.start()
    sub = Subscriber(port2, "outage")
    r = run_idle(conf2, db2)
    ok(r.returncode == 0, f"broker up: exit {r.returncode}" + ("" if r.returncode == 0 else r.stderr[-500:]))
    seen = sub.messages()
    ok(intervals_published(seen) == {x["interval_end"] for x in rows2},
       f"all {len(rows2)} intervals delivered from the outbox after the outage")
    check_state(json.loads(retained(port2).get("pvtap/site/state", "{}")), rows2, "after the outage")
    sub = Subscriber(port2, "again")
    r = run_idle(conf2, db2)
    ok(r.returncode == 0 and not intervals_published(sub.messages()),
       "a third run re-sends no interval (all acknowledged)")
    b2.stop()

    # ---- username and password -----------------------------------------------------
    passwd = os.path.join(TMP, "passwd")
    subprocess.run(["mosquitto_passwd", "-b", "-c", passwd, "gw", "s3cret-PW-77"], check=True)
    os.chmod(passwd, 0o600)
    port3 = free_port()
    b3 = Broker("auth", port3, passwd)
    b3.start()
    bad = write_conf("badpw", port3, 'username = "gw"; password = "wrong-PW-99";')
    r = run_idle(bad, os.path.join(TMP, "auth.db"))
    ok(r.returncode == 1 and "refused" in r.stderr, f"wrong password: exit {r.returncode}, refused said")
    ok("wrong-PW-99" not in r.stderr + r.stdout, "the password is never printed")
    good = write_conf("goodpw", port3, 'username = "gw"; password = "s3cret-PW-77";')
    r = run_idle(good, os.path.join(TMP, "auth.db"))
    ok(r.returncode == 0, f"right password: exit {r.returncode}")
    got = retained(port3, auth=("-u", "gw", "-P", "s3cret-PW-77"))
    check_state(json.loads(got.get("pvtap/site/state", "{}")), intervals(os.path.join(TMP, "auth.db")), "with a password")
    b3.stop()


try:
    main()
finally:
    for child in CHILDREN:
        if child.poll() is None:
            child.kill()
            child.wait()
    shutil.rmtree(TMP, ignore_errors=True)
print(f"{len(FAILS)} failed")
sys.exit(1 if FAILS else 0)
