#!/usr/bin/python3
"""Make the malformed captures of tests/data/malformed/ from golden captures.

Each output is named after its one defect; test_sniff_malformed.sh runs
`pvtap sniff` on each and expects a clean exit, a clear message and the
records it could still decode. Run: make-malformed.py GOLDEN_DIR OUT_DIR
(classic pcap, Ethernet + IPv4 inputs: basic.pcap and chunked.pcap)."""
import re
import struct
import sys


def read_pcap(path):
    data = open(path, 'rb').read()
    head, off, pkts = data[:24], 24, []
    while off + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack('<IIII', data[off:off + 16])
        pkts.append([sec, usec, bytearray(data[off + 16:off + 16 + incl]), orig])
        off += 16 + incl
    return head, pkts


def write_pcap(path, head, pkts):
    with open(path, 'wb') as f:
        f.write(head)
        for sec, usec, frame, orig in pkts:
            f.write(struct.pack('<IIII', sec, usec, len(frame), orig))
            f.write(frame)


def tcp_payload_off(frame):
    """Offset of the TCP payload in an Ethernet/IPv4 frame (RFC 791, 9293)."""
    ihl = (frame[14] & 0x0f) * 4
    return 14 + ihl + (frame[14 + ihl + 12] >> 4) * 4, 14 + ihl


def find(pkts, pattern):
    for i, p in enumerate(pkts):
        off, _ = tcp_payload_off(p[2])
        m = re.search(pattern, bytes(p[2][off:]))
        if m:
            return i, off, m
    raise SystemExit('pattern %r not found' % pattern)


def main():
    src, out = sys.argv[1], sys.argv[2]
    head, pkts = read_pcap(src + '/basic.pcap')

    # A file cut in the middle of a packet record (libpcap: "truncated dump file").
    raw = open(src + '/basic.pcap', 'rb').read()
    open(out + '/truncated-pcap-mid-packet.pcap', 'wb').write(raw[:len(raw) // 2])
    # A file cut inside its own 24-byte header.
    open(out + '/truncated-pcap-header.pcap', 'wb').write(raw[:10])
    open(out + '/not-a-pcap.pcap', 'wb').write(b'this is a text file, not a capture\n' * 20)
    open(out + '/empty-file.pcap', 'wb').write(b'')
    # A link type pvtap does not decode (DLT_USER0 = 147).
    write_pcap(out + '/unsupported-link-type.pcap', head[:20] + struct.pack('<I', 147), pkts)

    # The first POST's IP total length says 65000 bytes.
    bad = [list(p) for p in pkts]
    i, _, _ = find(bad, rb'^POST ')
    bad[i][2] = bytearray(bad[i][2])
    struct.pack_into('>H', bad[i][2], 16, 65000)
    write_pcap(out + '/bad-ip-total-length.pcap', head, bad)

    # The first POST's TCP data offset is 2 words (< the 5-word minimum).
    bad = [list(p) for p in pkts]
    i, _, _ = find(bad, rb'^POST ')
    bad[i][2] = bytearray(bad[i][2])
    _, tcp = tcp_payload_off(bad[i][2])
    bad[i][2][tcp + 12] = (2 << 4) | (bad[i][2][tcp + 12] & 0x0f)
    write_pcap(out + '/bad-tcp-data-offset.pcap', head, bad)

    # Every frame cut to 54 bytes, as a too-small snaplen would (caplen < len).
    write_pcap(out + '/snaplen-too-small.pcap', head[:16] + struct.pack('<I', 54) + head[20:],
               [[s, u, f[:54], o] for s, u, f, o in pkts])

    # The first POST announces a Content-Length of 30 digits: Content-Type's
    # bytes are given to the number so no TCP length or sequence changes.
    bad = [list(p) for p in pkts]
    i, off, m = find(bad, rb'Content-Type: [^\r]*\r\nContent-Length: \d+')
    old = m.group(0)
    new = b'Content-Length: ' + b'9' * (len(old) - 16)
    bad[i][2] = bytearray(bad[i][2])
    bad[i][2][off + m.start():off + m.end()] = new
    write_pcap(out + '/giant-content-length.pcap', head, bad)

    # A chunked upload whose first chunk size is not hexadecimal.
    head2, pkts2 = read_pcap(src + '/chunked.pcap')
    i, off, m = find(pkts2, rb'\r\n\r\n([0-9a-fA-F]+)\r\n')
    f = bytearray(pkts2[i][2])
    f[off + m.start(1):off + m.end(1)] = b'z' * (m.end(1) - m.start(1))
    pkts2[i][2] = f
    write_pcap(out + '/garbage-chunk-size.pcap', head2, pkts2)


if __name__ == '__main__':
    main()
