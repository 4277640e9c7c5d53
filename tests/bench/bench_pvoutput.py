"""Benchmark of the pvoutput sink against the loopback fake: requests to backfill a 3-day outage
against the lower bound ceil(statuses / 30), and the time from a record's arrival to its upload
with an empty queue. Run by hand: PVTAP=build/pvtap PVTAP_SIM=build/tests/sim python3 THIS."""
import datetime
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import pvofake  # noqa: E402

PVTAP = os.environ["PVTAP"]
SIM = os.path.join(os.environ["PVTAP_SIM"], "pvsim_capture")
KEY = "bench-key"
tmp = tempfile.mkdtemp(prefix="pvtap-bench-pvo-")


def conf(name, cap, url):
    path = os.path.join(tmp, name + ".conf")
    with open(path, "w") as f:
        f.write('site = { timezone = "America/Los_Angeles"; };\n'
                'sources = ( { type = "sniff"; file = "%s"; } );\n'
                'pvoutput = { api_key = "%s"; system_id = 1; url = "%s"; retry_min_s = 1;'
                ' retry_max_s = 1; timeout_s = 2; };\nlog = { level = "error"; };\n'
                % (cap, KEY, url))
    return path


def run(cfg, db, offset):
    t = time.monotonic()
    subprocess.run([PVTAP, "run", "-c", cfg, "--db", db, "--until-idle", "--no-drop",
                    "--runtime-dir", tmp], env=dict(os.environ, PVTAP_FAKE_NOW_OFFSET_S=str(offset)),
                   capture_output=True)
    return time.monotonic() - t


# 3 days captured while PVOutput was unreachable, then delivered
cap3 = os.path.join(tmp, "3days.pcap")
subprocess.run([SIM, "--seed", "7", "--days", "3", "-o", cap3, "-q"], check=True)
offset = int(datetime.datetime(2017, 6, 10, 12, tzinfo=datetime.timezone.utc).timestamp() - time.time())
port = pvofake.free_port()
url = "http://127.0.0.1:%d/" % port
cfg, db = conf("3days", cap3, url), os.path.join(tmp, "3days.db")
run(cfg, db, offset)  # the outage: everything stays queued
fake = pvofake.Fake(KEY, 1, offset_s=offset).start(port)
secs = run(cfg, db, offset)
statuses = sum(len(r["statuses"]) for r in fake.requests)
requests = len(fake.requests)
print("3-day outage backfill: %d statuses in %d requests (lower bound ceil(%d/30) = %d), %.2f s"
      % (statuses, requests, statuses, math.ceil(statuses / 30), secs))
fake.stop()

# one interval arriving with an empty queue: from the record's arrival (pvtap reading it) to
# the status at PVOutput, over 20 single-upload captures
fake = pvofake.Fake(KEY, 1, offset_s=offset).start()
lat = []
db = os.path.join(tmp, "lat.db")
for i in range(20):
    capi = os.path.join(tmp, "one%d.pcap" % i)
    subprocess.run([SIM, "--seed", "7", "--hours", "1", "--start-hour", str(i), "-o", capi, "-q"],
                   check=True)
    cfg = conf("one%d" % i, capi, fake.url())
    n0 = len(fake.requests)
    t0 = time.monotonic()
    p = subprocess.Popen([PVTAP, "run", "-c", cfg, "--db", db, "--until-idle", "--no-drop",
                          "--runtime-dir", tmp],
                         env=dict(os.environ, PVTAP_FAKE_NOW_OFFSET_S=str(offset)),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(fake.requests) == n0 and time.monotonic() - t0 < 30:
        time.sleep(0.001)
    if len(fake.requests) > n0:
        lat.append(fake.requests[n0]["mono"] - t0)
    p.wait()
lat.sort()
print("arrival to upload, empty queue (process start incl. capture read and commit): "
      "median %.3f s, max %.3f s over %d runs" % (lat[len(lat) // 2], lat[-1], len(lat)))
fake.stop()
subprocess.run(["rm", "-rf", tmp])
