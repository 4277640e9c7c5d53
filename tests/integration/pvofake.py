"""A loopback fake of PVOutput's r2 API (addbatchstatus.jsp, addoutput.jsp, getsystem.jsp) for pvtap's tests.

Behaves as docs/protocol.md section 5 documents PVOutput: the key and system id in
X-Pvoutput-* headers, X-Rate-Limit-* headers when asked with X-Rate-Limit: 1,
an hourly request limit answered by 403 "Exceeded", 400 on chosen statuses,
and outages (refused, hang, 5xx). Its clock is time.time() + offset_s, the same
shift pvtap gets through PVTAP_FAKE_NOW_OFFSET_S, so Reset seconds line up.
Not a test itself (no test_ prefix): imported by test_pvoutput.py and the bench.
"""
import http.server
import socket
import threading
import time
import urllib.parse


class Fake:
    def __init__(self, key, system_id, offset_s=0, limit=60, window_s=3600):
        self.key, self.system_id = key, str(system_id)
        self.offset_s = offset_s
        self.limit, self.window_s = limit, window_s
        self.window_start = None
        self.used = 0
        self.lock = threading.Lock()
        self.requests = []       # every request: dict(t, path, statuses, code, ...)
        self.accepted = {}       # (d, t) -> status fields as stored (PVOutput overwrites)
        self.accept_log = []     # (d, t) in acceptance order, repeats included
        self.violations = []     # what a real PVOutput would hold against the client
        self.bad = {}            # (d, t) -> 400 reason
        self.outputs = []        # every accepted addoutput: dict of its form fields
        self.bad_output = {}     # d -> 400 reason for addoutput
        self.fail_next = 0       # answer the next N requests with 503
        self.hang_next = 0       # hold the next N requests for hang_s, then drop them
        self.hang_s = 5.0
        self.delay_s = 0.0       # before every reply
        self.status_interval = 5
        self.lon = "-122.42"
        self.server = None
        self.port = None

    def now(self):
        return time.time() + self.offset_s

    # ---- the rate limit, in the fake clock -----------------------------
    def _window(self, now):
        if self.window_start is None or now >= self.window_start + self.window_s:
            self.window_start = now
            self.used = 0
        return int(self.window_start + self.window_s + 0.999)

    def start(self, port=0):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, code, body, rl=None):
                data = body.encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    if rl:
                        for k, v in rl.items():
                            self.send_header(k, str(v))
                    self.end_headers()
                    self.wfile.write(data)
                    return True
                except OSError:
                    return False

            def handle_any(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("latin-1") if n else ""
                path = urllib.parse.urlsplit(self.path)
                rec = {"t": fake.now(), "mono": time.monotonic(), "method": method,
                       "path": path.path, "body": body, "statuses": [],
                       "rate_header": self.headers.get("X-Rate-Limit"), "code": None}
                # the key must travel in its header only
                if fake.key in self.path or fake.key in body:
                    fake.violations.append("API key outside its header")
                with fake.lock:
                    fake.requests.append(rec)
                    now = fake.now()
                    if fake.paused_until and now < fake.paused_until:
                        fake.violations.append(
                            "request %.1f s before the advertised Reset" % (fake.paused_until - now))
                    reset = fake._window(now)
                    fake.used += 1
                    remaining = max(0, fake.limit - fake.used)
                    rl = None
                    if rec["rate_header"] == "1":
                        rl = {"X-Rate-Limit-Remaining": remaining, "X-Rate-Limit-Limit": fake.limit,
                              "X-Rate-Limit-Reset": reset}
                    over = fake.used > fake.limit
                    if remaining == 0:
                        fake.paused_until = reset
                    hang = fake.hang_next > 0
                    if hang:
                        fake.hang_next -= 1
                    fail = not hang and fake.fail_next > 0
                    if fail:
                        fake.fail_next -= 1
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if hang:
                    rec["code"] = "hang"
                    time.sleep(fake.hang_s)
                    self.close_connection = True
                    return
                if (self.headers.get("X-Pvoutput-Apikey") != fake.key or
                        self.headers.get("X-Pvoutput-SystemId") != fake.system_id):
                    rec["code"] = 401
                    self.reply(401, "Unauthorized 401: Invalid API Key", rl)
                    return
                if over:
                    rec["code"] = 403
                    self.reply(403, "Forbidden 403: Exceeded %d requests per hour" % fake.limit, rl)
                    return
                if fail:
                    rec["code"] = 503
                    self.reply(503, "Service Unavailable", rl)
                    return
                if path.path.endswith("/getsystem.jsp"):
                    rec["code"] = 200
                    self.reply(200, "Fake Site,5000,94000,16,310,Sun,1,5000,Inv,S,20,No,"
                               "20170101,37.39,%s,%d;;0" % (fake.lon, fake.status_interval), rl)
                    return
                if path.path.endswith("/addoutput.jsp") and method == "POST":
                    form = {k: v[0] for k, v in urllib.parse.parse_qs(
                        body, keep_blank_values=True).items()}
                    rec["output"] = form
                    d = form.get("d", "")
                    if len(d) != 8 or not d.isdigit():
                        rec["code"] = 400
                        self.reply(400, "Bad request 400: Invalid date [%s]" % d, rl)
                        return
                    if d in fake.bad_output:
                        rec["code"] = 400
                        self.reply(400, "Bad request 400: " + fake.bad_output[d], rl)
                        return
                    rec["code"] = 200
                    self.reply(200, "OK 200: Added Output", rl)
                    with fake.lock:
                        fake.outputs.append(form)
                    return
                if not path.path.endswith("/addbatchstatus.jsp") or method != "POST":
                    rec["code"] = 404
                    self.reply(404, "Not found", rl)
                    return
                form = urllib.parse.parse_qs(body, keep_blank_values=True)
                data = form.get("data", [""])[0]
                statuses = [s.split(",") for s in data.split(";") if s]
                rec["statuses"] = [(s[0], s[1]) for s in statuses]
                rec["n"] = form.get("n", [""])[0]
                rec["c1"] = form.get("c1", [""])[0]
                if len(statuses) > 30:
                    rec["code"] = 400
                    self.reply(400, "Bad request 400: Too many statuses", rl)
                    return
                for s in statuses:
                    if (s[0], s[1]) in fake.bad:
                        rec["code"] = 400
                        self.reply(400, "Bad request 400: " + fake.bad[(s[0], s[1])], rl)
                        return
                rec["code"] = 200
                ok = self.reply(200, ";".join("%s,%s,1" % (s[0], s[1]) for s in statuses), rl)
                rec["reply_written"] = ok
                with fake.lock:
                    for s in statuses:
                        fake.accepted[(s[0], s[1])] = s
                        fake.accept_log.append((s[0], s[1]))

            def do_POST(self):
                self.handle_any("POST")

            def do_GET(self):
                self.handle_any("GET")

        self.paused_until = None

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Close the listening socket: new connections are refused."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self):
        return "http://127.0.0.1:%d/service/r2/" % self.port


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
