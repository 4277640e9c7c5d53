#!/usr/bin/python3
"""What `pvtap poll --device pvs-api` should print for a supervisor's answer,
worked out from the answer itself with the standard library (own code,
never pvtap's): each device's type (a meter's from its role letter and its
subtype), subtype, counters and power. Used on the sample answers of
tests/data/pvs/ and on any real answer a user points the tests at.
"""
import json

GROSS = "GROSS_CONSUMPTION_LINESIDE"
TOLERANCE = 1e-6


def num(v):
    """A supervisor value: a number or a numeric string; "" and null: none."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    return float(v)


def kilo(v):
    x = num(v)
    return None if x is None else round(x * 1000, 6)


def role_letter(*names):
    for name in names:
        name = (name or "").strip()
        if name and name[-1].lower() in "cp":
            return name[-1].lower()
    return None


def subtype_of(entry):
    v = entry.get("subtype")
    if isinstance(v, str) and v.strip():
        return v.strip()
    for k, v in entry.items():
        if "subtype" in k.lower() and isinstance(v, str) and v.strip():
            return v.strip()
    return None


def meter_type(letter, subtype):
    """The rule: 'p' production; 'c' consumption when its subtype says
    GROSS_CONSUMPTION_LINESIDE, net otherwise (NET_..., NOT_USED, none)."""
    word = (subtype or "").upper()
    if not letter:
        letter = "c" if "CONSUMPTION" in word else "p" if "PRODUCTION" in word else None
    if letter == "p":
        return "production_meter"
    if letter == "c":
        return "consumption_meter" if word == GROSS else "net_meter"
    return None


def from_devicelist(doc):
    """serial -> the keys pvtap must print (None: must be absent)."""
    want = {}
    for d in doc["devices"]:
        serial = d.get("SERIAL")
        kind = d.get("DEVICE_TYPE")
        if kind == "Inverter":
            want[serial] = {"type": "inverter",
                            "energy_lifetime_kWh": num(d.get("ltea_3phsum_kwh")),
                            "power_W": kilo(d.get("p_3phsum_kw"))}
        elif kind == "Power Meter":
            sub = subtype_of(d)
            mtype = meter_type(role_letter(serial, d.get("MODEL"), d.get("TYPE")), sub)
            if not mtype:
                continue  # a storage meter: not pvtap's
            want[serial] = {"type": mtype,
                            "subtype": sub,
                            "energy_net_lifetime_kWh": num(d.get("net_ltea_3phsum_kwh")),
                            "energy_import_lifetime_kWh": num(d.get("pos_ltea_3phsum_kwh")),
                            "energy_export_lifetime_kWh": num(d.get("neg_ltea_3phsum_kwh")),
                            "power_W": kilo(d.get("p_3phsum_kw"))}
        elif kind == "PVS":
            want[serial] = {"type": "supervisor", "firmware": d.get("SWVER")}
    return want


def vars_devices(doc):
    """(path, variables) of each device of a /vars answer, either shape."""
    if isinstance(doc.get("values"), list):
        doc = {v["name"]: v["value"] for v in doc["values"]}
    flat = {}
    for name, value in doc.items():
        if isinstance(value, str) and value.lstrip().startswith("{"):
            value = json.loads(value)
        if isinstance(value, dict):
            yield name, value
            continue
        prefix, _, var = name.rpartition("/")
        if prefix.rpartition("/")[0].rpartition("/")[2] in ("meter", "inverter"):
            flat.setdefault(prefix, {})[var] = value
    yield from flat.items()


def from_vars(doc):
    want = {}
    for path, d in vars_devices(doc):
        serial = d.get("sn")
        parts = path.split("/")
        if "inverter" in parts:
            want[serial] = {"type": "inverter", "energy_lifetime_kWh": num(d.get("ltea3phsumKwh")),
                            "power_W": kilo(d.get("p3phsumKw"))}
        elif "meter" in parts:
            sub = subtype_of(d)
            mtype = meter_type(role_letter(serial, d.get("prodMdlNm")), sub)
            if not mtype:
                continue
            want[serial] = {"type": mtype,
                            "subtype": sub,
                            "energy_net_lifetime_kWh": num(d.get("netLtea3phsumKwh")),
                            "energy_import_lifetime_kWh": num(d.get("posLtea3phsumKwh")),
                            "energy_export_lifetime_kWh": num(d.get("negLtea3phsumKwh")),
                            "power_W": kilo(d.get("p3phsumKw"))}
    return want


def mismatches(objs, want):
    """What differs between pvtap's objects and the expectation."""
    got = {o.get("serial"): o for o in objs}
    bad = []
    for serial, keys in want.items():
        o = got.get(serial)
        if o is None:
            bad.append("%s: missing" % serial)
            continue
        for k, v in keys.items():
            have = o.get(k)
            if v is None:
                if have is not None:
                    bad.append("%s: %s = %r, wanted none" % (serial, k, have))
            elif isinstance(v, float):
                if not isinstance(have, (int, float)) or abs(have - v) > TOLERANCE * max(1, abs(v)):
                    bad.append("%s: %s = %r, wanted %r" % (serial, k, have, v))
            elif have != v:
                bad.append("%s: %s = %r, wanted %r" % (serial, k, have, v))
    extra = set(got) - set(want)
    if extra:
        bad.append("devices not in the answer: %s" % sorted(extra))
    return bad
