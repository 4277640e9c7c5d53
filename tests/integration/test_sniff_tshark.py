#!/usr/bin/python3
"""tshark's own TCP/HTTP reassembly as an oracle: its POST bodies must hold exactly pvtap's records.

For each capture, tshark prints every supervisor POST body (http.file_data,
de-chunked); pvtap sniff --format tsv prints msg, time, raw fields. Dropping
pvtap's time column gives back the body line, so the two multisets of lines
must be equal."""
import collections
import os
import subprocess
import sys

from need import in_ci, need_tool

CASES = ['basic', 'segmented', 'reorder', 'retransmit', 'keepalive', 'chunked', 'crlf',
         'vlan', 'ipv6', 'background']


def tshark_lines(pcap):
    out = subprocess.run(
        ['tshark', '-o', 'tcp.reassemble_out_of_order:TRUE', '-r', pcap, '-Y',
         'http.request.method == "POST" && http.request.uri contains "SMS2DataCollector"',
         '-T', 'fields', '-e', 'http.file_data'],
        capture_output=True, check=True, timeout=300).stdout.decode('utf-8', 'replace')
    lines = []
    for row in out.splitlines():
        # tshark writes the body with C escapes: \t \n \r \\ .
        body, i = [], 0
        while i < len(row):
            if row[i] == '\\' and i + 1 < len(row):
                body.append({'t': '\t', 'n': '\n', 'r': '\r', '\\': '\\'}.get(row[i + 1],
                                                                            row[i + 1]))
                i += 2
            else:
                body.append(row[i])
                i += 1
        for line in ''.join(body).split('\n'):
            line = line.rstrip('\r')
            if line:
                lines.append(line)
    return lines


def pvtap_lines(pvtap, pcap):
    out = subprocess.run([pvtap, 'sniff', '-r', pcap, '--format', 'tsv'], capture_output=True,
                         check=True, timeout=300).stdout.decode('utf-8', 'replace')
    lines = []
    for row in out.splitlines():
        cols = row.split('\t')
        lines.append('\t'.join([cols[0]] + cols[2:]))
    return lines


def main():
    need_tool('tshark', 'tshark')
    pvtap, data = os.environ['PVTAP'], os.environ['PVTAP_DATA']
    fail = 0
    for case in CASES:
        pcap = os.path.join(data, 'golden', case + '.pcap')
        if not os.path.exists(pcap):
            if in_ci():
                print('FAIL', case, ': no', pcap, '(CI: no case may be skipped)')
                fail = 1
            else:
                print('skip', case)
            continue
        want = collections.Counter(tshark_lines(pcap))
        got = collections.Counter(pvtap_lines(pvtap, pcap))
        if not want:
            print('FAIL', case, ': tshark found no POST body')
            fail = 1
        elif want != got:
            print('FAIL', case, ': tshark %d lines, pvtap %d' % (sum(want.values()),
                                                                 sum(got.values())))
            for line in list((want - got).elements())[:3]:
                print('  only tshark:', line[:120])
            for line in list((got - want).elements())[:3]:
                print('  only pvtap: ', line[:120])
            fail = 1
        else:
            print('ok  ', case, '(%d lines)' % sum(want.values()))
    return fail


if __name__ == '__main__':
    sys.exit(main())
