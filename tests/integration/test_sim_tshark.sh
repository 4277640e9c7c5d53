#!/bin/bash
# The simulator's captures checked by a tool nobody here wrote: tshark must see every POST as a complete HTTP request whose body is what the truth implies.
set -euo pipefail
sim=${PVTAP_SIM:?}/pvsim_capture
. "$(dirname "$0")/need.sh"
need_tool tshark tshark
[ -x "$sim" ] || { echo "pvsim_capture not built: $sim"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

scenarios=(
  "segmented|--seed 3 --inverters 4 --hours 2 --start-hour 16 --segment 536"
  "reorder|--seed 4 --inverters 6 --hours 2 --start-hour 16 --segment 300 --reorder 0.3"
  "retransmit|--seed 5 --inverters 6 --hours 2 --start-hour 16 --segment 400 --dup 0.3 --overlap 0.3"
  "chunked|--seed 7 --inverters 4 --hours 2 --start-hour 16 --chunked --chunk-size 300"
  "keepalive|--seed 6 --inverters 4 --hours 2 --start-hour 16 --keepalive 4"
  "crlf|--seed 8 --inverters 4 --hours 2 --start-hour 16 --crlf"
  "ipv6|--seed 11 --inverters 4 --hours 2 --start-hour 16 --ipv6 --segment 700"
  "vlan|--seed 9 --inverters 4 --hours 2 --start-hour 16 --vlan 100"
  "qinq|--seed 10 --inverters 4 --hours 2 --start-hour 16 --vlan 100 --svlan 200"
  "background|--seed 12 --inverters 4 --hours 2 --start-hour 16 --background 0.9 --keepalive 2"
  "lost-reply|--seed 16 --inverters 4 --hours 3 --start-hour 15 --lost-reply 0.2"
  "outage|--seed 13 --inverters 4 --hours 8 --start-hour 12 --outage 13:00-15:00 --backlog-chunk 8"
  "pcapng|--seed 17 --inverters 4 --hours 2 --start-hour 16 --pcapng"
)

fail=0
for s in "${scenarios[@]}"; do
    name=${s%%|*}
    args=${s#*|}
    # shellcheck disable=SC2086
    "$sim" -q $args -o "$tmp/$name.pcap" --truth-records "$tmp/$name.records.jsonl"
    # TCP reassembly, HTTP body reassembly and de-chunking on; checksums verified.
    tshark -r "$tmp/$name.pcap" -o tcp.desegment_tcp_streams:TRUE -o http.desegment_body:TRUE \
        -o tcp.reassemble_out_of_order:TRUE -o http.dechunk_body:TRUE -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
        -o udp.check_checksum:TRUE -Y http.request -T fields -E separator='|' \
        -e frame.number -e http.request.method -e http.request.uri -e http.content_length \
        -e http.transfer_encoding -e http.file_data > "$tmp/$name.tshark" 2>/dev/null
    tshark -r "$tmp/$name.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
        -o udp.check_checksum:TRUE -q -z expert,error > "$tmp/$name.expert" 2>/dev/null
    crlf=0; [[ " $args " == *" --crlf "* ]] && crlf=1
    chunked=0; [[ " $args " == *" --chunked "* ]] && chunked=1
    if ! /usr/bin/python3 - "$tmp/$name.tshark" "$tmp/$name.records.jsonl" "$tmp/$name.expert" \
            "$crlf" "$chunked" <<'PY'; then
import json, re, sys, datetime
tshark_out, records, expert, crlf, chunked = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5] == "1"
errors = []

# Any error (bad checksum, malformed, conflicting overlap data) fails, except
# Wireshark's own complaint about a retransmission that straddles the end of an
# already reassembled PDU: the bytes agree (a conflict is a different message).
with open(expert) as f:
    for line in f:  # -z expert,error lists only errors: "  <count>  <group>  <protocol>  <summary>"
        if re.match(r"^\s+\d+\s+\S", line) and "New fragment overlaps old data (retransmission?)" not in line:
            errors.append("tshark: " + line.strip())

KEYS = {
    130: ["time", "serial", "model", None, "energy_lifetime_kWh", "power_kW", "voltage_V", "current_A",
          "dc_power_kW", "dc_voltage_V", "dc_current_A", "temperature_C", "frequency_Hz", "status"],
    140: ["time", "serial", "model", "ct_scale", "energy_net_lifetime_kWh", "power_kW", "reactive_kvar",
          "apparent_kVA", "power_factor", "frequency_Hz", "status"],
}

def compact(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").strftime("%Y%m%d%H%M%S")

# The truth's records, grouped into requests (each starts with its 100 header),
# turned back into the body lines they imply. Numbers keep their exact text.
requests = []
with open(records) as f:
    for line in f:
        o = json.loads(line, parse_float=str, parse_int=str)
        msg = int(o["msg"])
        if msg in KEYS:
            fields = []
            for k in KEYS[msg]:
                if k is None or k not in o:
                    fields.append("")
                elif k == "time":
                    fields.append(compact(o[k]))
                else:
                    fields.append(str(o[k]))
        else:
            fields = o["fields"]
        if msg == 100:
            requests.append([])
        requests[-1].append("\t".join([str(msg)] + fields))
eol = "\r\n" if crlf else "\n"
bodies = [eol.join(r) + eol for r in requests]

def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\", '"': '"'}.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)

seen = []
with open(tshark_out) as f:
    for line in f:
        parts = line.rstrip("\n").split("|", 5)
        if len(parts) < 6:
            errors.append("short tshark line: " + line[:200])
            continue
        frame, method, uri, clen, te, data = parts
        if method != "POST":
            continue
        if not uri.endswith("SMS2DataCollector.aspx"):
            continue  # background HTTP
        seen.append((frame, uri, clen, te, unescape(data)))

if len(seen) != len(bodies):
    errors.append(f"tshark saw {len(seen)} supervisor POSTs, the truth implies {len(bodies)}")
for i, ((frame, uri, clen, te, data), body) in enumerate(zip(seen, bodies)):
    want_uri = "/Command/SMS2DataCollector.aspx" if len(requests[i]) == 2 else "/Data/SMS2DataCollector.aspx"
    if uri != want_uri:
        errors.append(f"request {i} (frame {frame}): uri {uri}, want {want_uri}")
    if chunked:
        if te != "chunked":
            errors.append(f"request {i} (frame {frame}): not chunked")
    elif clen != str(len(body.encode())):
        errors.append(f"request {i} (frame {frame}): Content-Length {clen}, body is {len(body.encode())} bytes")
    if data != body:
        errors.append(f"request {i} (frame {frame}): body differs ({len(data)} vs {len(body)} chars)")
for e in errors[:10]:
    print(e)
if not errors:
    n_cmd = sum(1 for r in requests if len(r) == 2)
    print(f"ok: {len(seen)} POSTs ({n_cmd} /Command/), {sum(len(r) for r in requests)} lines")
sys.exit(1 if errors else 0)
PY
        echo "FAIL: $name ($args)"
        fail=1
    else
        echo "  ^ $name"
    fi
done
exit $fail
