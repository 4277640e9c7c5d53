#!/usr/bin/python3
"""A fake PV Supervisor local API on loopback, for the pvs-api tests.

Serves the sample answers of tests/data/pvs/ (both API generations) over
HTTP or HTTPS, advancing the lifetime counters at each answer, and
misbehaves on request: slow answers, 401/403, HTML (a PVS2), a meter that
vanishes, sessions that expire, a login mode that changed. Every request
is recorded so tests can check what pvtap sent (and did not send).

The varserver side holds a variable space (the union of the vars files:
flat variables and nested device objects alike) and answers /vars as a
supervisor does: match= selects the names that contain its value, name=
the names listed; fmt=obj gives an object keyed by name, anything else
{"values": [{"name", "value"}], "count": N}.

Own code with Python's standard library only: never pvtap's decoders.
Run it by hand with: pvs_fake.py DATA_DIR [--tls CERT KEY] [--port N]
"""
import base64
import copy
import http.server
import json
import os
import secrets
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

INVERTER_STEP_KWH = 0.08   # per answer: about 1 kW over 5 minutes
IMPORT_STEP_KWH = 0.01
EXPORT_STEP_KWH = 0.06
PRODUCTION_METER_STEP_KWH = 0.24


class FakePVS:
    def __init__(self, data_dir, tls=None, password="C1876", username="ssm_owner",
                 devicelist="devicelist.json", vars_files=("vars_meter.json", "vars_inverter.json"),
                 sw_rev="2025.06.24.61840", advance=True):
        self.data_dir = data_dir
        self.sw_rev = sw_rev
        self.advance = advance    # False: serve the files as they are
        self.tls = tls
        self.username = username
        self.password = password
        self.lock = threading.Lock()
        # behaviour, set by the tests
        self.mode = "ok"          # ok | slow | 401 | 403 | html | vars403 | flat400 | 500
        self.slow_s = 5.0
        self.vanish_after = None  # DeviceList answers after which meter 'c' is gone
        self.expire_sessions = False
        self.ignore_fmt = False   # answer the values list even to fmt=obj
        # what happened
        self.requests = []        # dicts: path, authorization, cookie
        self.handshake_failures = 0
        self.connections = 0
        self.logins = 0
        self.dl_answers = 0
        self.vars_steps = 0
        self.sessions = set()
        now = int(time.time())
        self.vars_base_s = now // 300 * 300 - 7200
        with open(os.path.join(data_dir, devicelist)) as f:
            self.devicelist = json.load(f)
        self.variables = {}
        for name in vars_files:
            with open(os.path.join(data_dir, name)) as f:
                self.variables.update(json.load(f))
        with open(os.path.join(data_dir, "pvs2.html"), "rb") as f:
            self.html = f.read()
        self.server = None

    # ---- answers ----------------------------------------------------------

    def devicelist_body(self):
        k = self.dl_answers
        self.dl_answers += 1
        doc = copy.deepcopy(self.devicelist)
        kept = []
        for d in doc["devices"]:
            serial = d.get("SERIAL", "")
            if not self.advance:
                pass
            elif d.get("DEVICE_TYPE") == "Inverter":
                d["ltea_3phsum_kwh"] = "%.4f" % (float(d["ltea_3phsum_kwh"]) + k * INVERTER_STEP_KWH)
            elif serial.endswith("c"):
                if self.vanish_after is not None and k >= self.vanish_after:
                    continue
                pos = float(d["pos_ltea_3phsum_kwh"]) + k * IMPORT_STEP_KWH
                neg = float(d["neg_ltea_3phsum_kwh"]) + k * EXPORT_STEP_KWH
                d["pos_ltea_3phsum_kwh"] = "%.2f" % pos
                d["neg_ltea_3phsum_kwh"] = "%.2f" % neg
                d["net_ltea_3phsum_kwh"] = "%.2f" % (pos - neg)
            elif serial.endswith("p"):
                d["net_ltea_3phsum_kwh"] = "%.2f" % (
                    float(d["net_ltea_3phsum_kwh"]) + k * PRODUCTION_METER_STEP_KWH)
            kept.append(d)
        doc["devices"] = kept
        return json.dumps(doc).encode()

    def eps(self):
        t = self.vars_base_s + 300 * self.vars_steps
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    @staticmethod
    def advance_device(d, k, eps):
        """One device's variables (a nested object, or a flat group) k steps on."""
        def num(key, step):
            v = d[key]
            x = round(float(v) + k * step, 4)
            d[key] = ("%.4f" % x) if isinstance(v, str) else x
        d["msmtEps"] = eps
        sn = str(d.get("sn", ""))
        if "ltea3phsumKwh" in d:
            num("ltea3phsumKwh", INVERTER_STEP_KWH)
        elif sn.endswith("c") and "posLtea3phsumKwh" in d:
            num("posLtea3phsumKwh", IMPORT_STEP_KWH)
            num("negLtea3phsumKwh", EXPORT_STEP_KWH)
            net = round(float(d["posLtea3phsumKwh"]) - float(d["negLtea3phsumKwh"]), 4)
            d["netLtea3phsumKwh"] = ("%.4f" % net) if isinstance(d["netLtea3phsumKwh"], str) else net
        elif sn.endswith("p") and "netLtea3phsumKwh" in d:
            num("netLtea3phsumKwh", PRODUCTION_METER_STEP_KWH)

    def current_variables(self, k):
        """The variable space k steps of simulated time on."""
        out = copy.deepcopy(self.variables)
        if not self.advance:
            return out
        groups = {}
        for name, value in out.items():
            if isinstance(value, dict):
                self.advance_device(value, k, self.eps())
            elif "/meter/" in name or "/inverter/" in name:
                prefix, _, var = name.rpartition("/")
                groups.setdefault(prefix, {})[var] = value
        for prefix, g in groups.items():
            self.advance_device(g, k, self.eps())
            for var, value in g.items():
                out[prefix + "/" + var] = value
        return out

    def vars_body(self, query):
        """The answer to one /vars query, as a supervisor gives it."""
        match = (query.get("match") or [None])[0]
        names = (query.get("name") or [None])[0]
        space = dict(self.variables)
        if self.sw_rev:
            space["/sys/info/sw_rev"] = self.sw_rev
        if match is not None:
            picked = [n for n in space if match in n]
        elif names is not None:
            picked = [n for n in names.split(",") if n in space]
        else:
            picked = []
        # one step of simulated time per poll: meters are asked first
        if any(("meter" in n and (n.endswith("/sn") or isinstance(space[n], dict)))
               for n in picked):
            self.vars_steps += 1
        cur = self.current_variables(self.vars_steps)
        if self.sw_rev:
            cur["/sys/info/sw_rev"] = self.sw_rev
        if query.get("fmt") == ["obj"] and not self.ignore_fmt:
            return json.dumps({n: cur[n] for n in picked}).encode()
        values = [{"name": n, "value": cur[n]} for n in picked]
        return json.dumps({"values": values, "count": len(values)}).encode()

    # ---- server -------------------------------------------------------------

    def start(self, port=0):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def send(self, status, body=b"", ctype="application/json", headers=()):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def cookie_session(self):
                for part in (self.headers.get("Cookie") or "").split(";"):
                    name, _, value = part.strip().partition("=")
                    if name == "session":
                        return value
                return None

            def do_GET(self):
                with fake.lock:
                    fake.requests.append({
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "cookie": self.headers.get("Cookie"),
                    })
                    mode = fake.mode
                if mode == "slow":
                    time.sleep(fake.slow_s)
                if mode == "500":
                    return self.send(500, b"busy", "text/plain")
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                if url.path == "/cgi-bin/dl_cgi":
                    if mode in ("401", "403"):
                        return self.send(int(mode), b'{"result":"unauthorized"}')
                    if mode == "html":
                        return self.send(200, fake.html, "text/html")
                    if query.get("Command") != ["DeviceList"]:
                        return self.send(400, b'{"result":"unknown command"}')
                    with fake.lock:
                        body = fake.devicelist_body()
                    return self.send(200, body)
                if url.path == "/auth":
                    if "login" not in query:
                        return self.send(400, b"{}")
                    want = "Basic " + base64.b64encode(
                        ("%s:%s" % (fake.username, fake.password)).encode()).decode()
                    if mode in ("401", "403") or self.headers.get("Authorization") != want:
                        return self.send(401, b'{"error":"unauthorized"}')
                    token = secrets.token_urlsafe(32)
                    with fake.lock:
                        fake.logins += 1
                        fake.sessions.add(token)
                    return self.send(200, json.dumps({"session": token}).encode(),
                                     headers=[("Set-Cookie",
                                               "session=%s; Path=/; HttpOnly; Secure" % token)])
                if url.path == "/vars":
                    if mode == "vars403":
                        return self.send(403, b'{"error":"forbidden"}')
                    if mode == "flat400" and (query.get("match") or [""])[0].startswith(
                            "/sys/devices/"):
                        return self.send(400, b'{"error":"bad match"}')
                    if mode == "html":
                        return self.send(200, fake.html, "text/html")
                    session = self.cookie_session()
                    with fake.lock:
                        if session not in fake.sessions:
                            return self.send(401, b'{"error":"no session"}')
                        body = fake.vars_body(query)
                        if fake.expire_sessions:
                            fake.sessions.discard(session)
                    return self.send(200, body)
                return self.send(404, b"not found", "text/plain")

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def finish_request(self, request, client_address):
                with fake.lock:
                    fake.connections += 1
                if fake.tls:
                    # The handshake on the request's thread: a client that
                    # hangs up (a refused pin) does not stall the others.
                    try:
                        request.settimeout(10)
                        request = fake.ctx.wrap_socket(request, server_side=True)
                    except (ssl.SSLError, OSError):
                        with fake.lock:
                            fake.handshake_failures += 1
                        return
                try:
                    self.RequestHandlerClass(request, client_address, self)
                except (ssl.SSLError, OSError):
                    pass

            def handle_error(self, request, client_address):
                pass

        if self.tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(*self.tls)
        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        scheme = "https" if self.tls else "http"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def reset_log(self):
        with self.lock:
            self.requests = []
            self.connections = 0
            self.handshake_failures = 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: pvs_fake.py DATA_DIR [--tls CERT KEY] [--port N] "
                 "[--devicelist FILE] [--vars FILE,FILE]")
    tls, port = None, 0
    kw = {}
    if "--devicelist" in args:
        kw["devicelist"] = args[args.index("--devicelist") + 1]
    if "--vars" in args:
        kw["vars_files"] = args[args.index("--vars") + 1].split(",")
    if "--tls" in args:
        i = args.index("--tls")
        tls = (args[i + 1], args[i + 2])
    if "--port" in args:
        port = int(args[args.index("--port") + 1])
    fake = FakePVS(args[0], tls=tls, **kw).start(port)
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
