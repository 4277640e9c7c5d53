#!/usr/bin/python3
"""The simulator's metering topologies against physics: one site (same seed) simulated
with net, gross and no consumption CTs and with or without production CTs must tell the
same story: gross consumption = net + production, the production meter = factor x the
inverter, a meter without CTs all zeros (and no 141), in records, polls and truth."""
import csv
import json
import os
import subprocess
import sys
import tempfile

SIM = os.path.join(os.environ["PVTAP_SIM"], "pvsim_capture")
# a string inverter reports every interval, day and night; 16:00-22:00 UTC spans noon to dusk
SITE = ["--seed", "31", "--string-inverter", "--hours", "6", "--start-hour", "16",
        "--poll-interval", "30"]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def simulate(tmp, name, *knobs):
    base = os.path.join(tmp, name)
    subprocess.run([SIM, "-q", *SITE, *knobs, "-o", base + ".pcap", "--truth-records",
                    base + ".jsonl", "--truth-intervals", base + ".csv", "--poll",
                    base + ".poll.jsonl"], check=True)
    with open(base + ".jsonl") as f:
        recs = [json.loads(line) for line in f]
    with open(base + ".poll.jsonl") as f:
        polls = [json.loads(line) for line in f]
    with open(base + ".csv") as f:
        rows = {(r["interval_end"], r["source"]): r for r in csv.DictReader(f)}
    return recs, polls, rows


def meter(recs, suffix):
    """140 records of the c or p meter, by time (a request's records are the same each time)."""
    return {r["time"]: r for r in recs if r["msg"] == 140 and r["serial"].endswith(suffix)}


def lifetimes(recs, msg, key):
    return {r["time"]: r[key] for r in recs if r["msg"] == msg}


def deltas(series):
    times = sorted(series)
    return {t1: series[t1] - series[t0] for t0, t1 in zip(times, times[1:])}


def cell(rows, key, col):
    v = rows[key][col]
    return None if v == "" else float(v)


def main():
    if not os.access(SIM, os.X_OK):
        print("pvsim_capture not built: " + SIM)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        net, net_poll, net_rows = simulate(tmp, "net")
        gross, gross_poll, gross_rows = simulate(tmp, "gross", "--ct", "gross",
                                                 "--truth-production", "auto")
        none, none_poll, none_rows = simulate(tmp, "none", "--ct", "none", "--production-cts",
                                              "0", "--truth-production", "auto")
        prod, _, prod_rows = simulate(tmp, "prod", "--production-cts", "0.95",
                                      "--truth-production", "meter")

    inv = deltas(lifetimes(net, 130, "energy_lifetime_kWh"))
    net_c = deltas({t: r["energy_net_lifetime_kWh"] for t, r in meter(net, "c").items()})
    check(min(net_c.values()) < 0, "net CTs: the c counter goes down while exporting")

    # gross: the house, never negative, = net + production (4-decimal rounding: 3e-4 kWh)
    g = meter(gross, "c")
    g_life = {t: r["energy_net_lifetime_kWh"] for t, r in g.items()}
    g_d = deltas(g_life)
    check(all(d >= 0 for d in g_d.values()), "gross CTs: the c counter only grows")
    check(all(r["power_kW"] >= 0 for r in g.values()), "gross CTs: the c power is never negative")
    worst = max(abs(g_d[t] - (net_c[t] + inv[t])) for t in g_d)
    check(worst < 3e-4, "gross CTs: each interval's c delta = net delta + inverter delta "
          "(worst %.5f kWh)" % worst)
    wn = [p for p in gross_poll if p["device"] == "wattnode"]
    check(all(p.get("role") == "consumption" for p in wn), "gross CTs: WattNode role consumption")
    check(all(p["energy_export_lifetime_kWh"] == 0 and p["power_W"] >= 0 and
              p["energy_import_lifetime_kWh"] == p["energy_net_lifetime_kWh"] for p in wn),
          "gross CTs: WattNode export 0, import = its counter, power >= 0")
    check(not any("role" in p for p in net_poll), "net CTs: WattNode lines carry no role")

    # the truth: consumption is the house either way; sniffed counters have 0.1 Wh steps,
    # a WattNode's float32 ~1 Wh at these lifetimes
    for series, tol in (("sniff", 0.5), ("poll", 4.0)):
        common = [k for k in net_rows if k[1] == series and k in gross_rows and
                  cell(net_rows, k, "consumption_wh") is not None and
                  cell(gross_rows, k, "consumption_wh") is not None]
        worst = max(abs(cell(net_rows, k, "consumption_wh") -
                        cell(gross_rows, k, "consumption_wh")) for k in common)
        check(len(common) > 60 and worst <= tol,
              "truth: gross consumption = net-mode consumption in %d %s rows (worst %.1f Wh)"
              % (len(common), series, worst))
    common = [k for k in gross_rows if cell(gross_rows, k, "production_wh") is not None and
              cell(gross_rows, k, "consumption_wh") is not None]
    check(len(common) > 60 and all(
        cell(gross_rows, k, "net_wh") is not None and abs(cell(gross_rows, k, "net_wh") - (
            cell(gross_rows, k, "consumption_wh") - cell(gross_rows, k, "production_wh"))) <= 0.15
        for k in common), "truth: gross rows with production have net = consumption - production")

    # no CTs: zeros in every c and p record and poll, no 141, nothing but production in the truth
    zeros = all(r["energy_net_lifetime_kWh"] == 0 and r["power_kW"] == 0 and
                r["reactive_kvar"] == 0 and r["apparent_kVA"] == 0 and r["power_factor"] == 1
                for r in none if r["msg"] == 140)
    check(zeros, "no CTs: every 140 is zeros with power factor 1")
    check(not any(r["msg"] == 141 for r in none), "no CTs: no 141 records")
    check(all(p["power_W"] == 0 and p["energy_net_lifetime_kWh"] == 0 and
              p["energy_import_lifetime_kWh"] == 0 and p["energy_export_lifetime_kWh"] == 0
              for p in none_poll if p["device"] == "wattnode"), "no CTs: the WattNode reads 0")
    check(all(r["net_wh"] == "" and r["consumption_wh"] == "" for r in none_rows.values()),
          "no CTs: net and consumption cells all empty")
    check(all(none_rows[k]["production_wh"] == net_rows[k]["production_wh"] for k in none_rows)
          and len(none_rows) == len(net_rows), "no CTs: production rows as on the net site")

    # production CTs at 0.95: the p meter follows the inverter; the truth takes it
    p_d = deltas({t: r["energy_net_lifetime_kWh"] for t, r in meter(prod, "p").items()})
    worst = max(abs(p_d[t] - 0.95 * inv[t]) for t in p_d)
    check(worst < 3e-4, "production CTs: each p delta = 0.95 x the inverter's (worst %.5f kWh)"
          % worst)
    # 141 legs carry instantaneous power (kW, fields 8 and 9); the net run's p meter reads 0.98
    legs = {run: {r["fields"][0]: float(r["fields"][8]) + float(r["fields"][9])
                  for r in recs if r["msg"] == 141 and r["fields"][1].endswith("p")}
            for run, recs in (("net", net), ("prod", prod))}
    worst = max(abs(legs["prod"][t] - legs["net"][t] * 0.95 / 0.98) for t in legs["net"])
    check(len(legs["prod"]) == len(legs["net"]) > 60 and worst < 3e-4,
          "production CTs: the p meter's 141 power = 0.95 x the inverter's (worst %.5f kW)" % worst)
    pairs = [(cell(prod_rows, k, "production_wh"), cell(net_rows, k, "production_wh"))
             for k in prod_rows if k[1] == "sniff" and cell(net_rows, k, "production_wh")]
    worst = max(abs(a - 0.95 * b) for a, b in pairs)
    check(len(pairs) > 50 and worst <= 0.3,
          "truth with the meter: production = 0.95 x the inverters' (worst %.2f Wh)" % worst)

    if failures:
        print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
