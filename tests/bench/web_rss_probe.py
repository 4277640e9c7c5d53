#!/usr/bin/python3
"""The web server's memory under N large requests at once: opens N
connections (16 per source address, 127.0.0.1, .2, ...: the per-address
limit), sends each a GET of one of PATHs (in turn), reads nothing for HOLD
seconds (slow clients: every answer waits in the server), then reads all
answers at once. Prints the daemon's RSS before, its peak, and the status
codes seen ("none": the connection closed without an answer).
Usage: web_rss_probe.py HOST:PORT PID N HOLD PATH..."""
import selectors
import socket
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    hostport, pid, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    paths = sys.argv[5:]
    host, port = hostport.rsplit(":", 1)
    before = rss_kb(pid)
    sel = selectors.DefaultSelector()
    data = {}
    for i in range(n):
        s = socket.socket()
        s.bind((f"127.0.0.{1 + i // 16}", 0))
        # a small receive buffer: the answer stays in the server
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((host, int(port)))
        s.sendall(f"GET {paths[i % len(paths)]} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data[s] = bytearray()
    peak = before
    end = time.time() + hold
    while time.time() < end:
        peak = max(peak, rss_kb(pid))
        time.sleep(0.05)
    for s in data:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    left = len(data)
    end = time.time() + 300
    while left and time.time() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                b = s.recv(1 << 18)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                b = b""
            if b:
                data[s] += b
            else:
                sel.unregister(s)
                left -= 1
        peak = max(peak, rss_kb(pid))
    codes = {}
    total = 0
    for s, d in data.items():
        line = bytes(d[:d.find(b"\r\n")]).decode(errors="replace")
        code = line.split(" ")[1] if line.count(" ") >= 1 else "none"
        codes[code] = codes.get(code, 0) + 1
        total += len(d)
        s.close()
    after = rss_kb(pid)
    print(f"requests {n}, answers {total / 1e6:.1f} MB, status {dict(sorted(codes.items()))}")
    print(f"RSS before {before / 1024:.0f} MB, peak {peak / 1024:.0f} MB, after {after / 1024:.0f} MB")


main()
