#!/usr/bin/env python3
"""Checks a generated tablet layout against `rackd ctl describe`, reading
the layout with Python's own parsers (json; zlib + xml.etree for TouchOSC),
independently of rackd's writer.

    check_layout.py open-stage-control rack.json describe.json HOST:PORT
    check_layout.py touchosc rack.tosc describe.json

For every parameter of the describe: a control with its OSC address (or
`A/norm` for a log-taper fader in TouchOSC) and its range in real units
(choices: every label; stepped controls with up to 12 positions: every
position). Prints one line per problem and exits 1, or
prints "ok N parameters" and exits 0.
"""

import json
import sys
import xml.etree.ElementTree as ET
import zlib

# Stepped controls with fewer positions than this are buttons or menus.
MAX_BUTTONS = 12


def problems_osc(layout, describe, target):
    found = {}

    def walk(w):
        if isinstance(w, dict):
            if isinstance(w.get("address"), str) and "target" in w:
                found.setdefault(w["address"], []).append(w)
            for k in ("tabs", "widgets"):
                for c in w.get(k, []) or []:
                    walk(c)

    walk(layout["content"])
    out = []
    if layout.get("type") != "session":
        out.append("not a session file")
    for p in describe["params"]:
        a = p["address"]
        ws = found.get(a, [])
        if len(ws) != 1:
            out.append(f"{a}: {len(ws)} controls")
            continue
        w = ws[0]
        if w["target"] != target:
            out.append(f"{a}: target {w['target']}")
        kind = p["kind"]
        if kind == "continuous":
            if w["type"] != "fader" or w["range"] != {"min": p["min"], "max": p["max"]}:
                out.append(f"{a}: {w['type']} {w.get('range')} for {p['min']}..{p['max']}")
            if w.get("logScale") != (p["taper"] == "log"):
                out.append(f"{a}: logScale {w.get('logScale')} for taper {p['taper']}")
        elif kind == "stepped" and p["max"] - p["min"] < MAX_BUTTONS:
            want = list(range(p["min"], p["max"] + 1))
            if w.get("values") != want or w.get("typeTags") != "i":
                out.append(f"{a}: values {w.get('values')} {w.get('typeTags')} for {want}")
        elif kind == "stepped":
            if w.get("range") != {"min": p["min"], "max": p["max"]} or w.get("typeTags") != "i":
                out.append(f"{a}: {w.get('range')} {w.get('typeTags')} for {p['min']}..{p['max']}")
        elif kind == "switch":
            if (w["type"], w.get("on"), w.get("off")) != ("button", 1, 0):
                out.append(f"{a}: {w['type']} on {w.get('on')} off {w.get('off')}")
        elif kind == "enum":
            if w.get("values") != p["labels"]:
                out.append(f"{a}: values {w.get('values')} for {p['labels']}")
    for m in describe.get("meters", []):
        if not any_widget_with_address(layout["content"], m["address"]):
            out.append(f"{m['address']}: no meter")
    text = json.dumps(layout)
    for need in ("/rackd/subscribe", "/rackd/snapshot/save", "/rackd/snapshot/recall"):
        if need not in text:
            out.append(f"no {need}")
    return out


def any_widget_with_address(w, address):
    if isinstance(w, dict):
        if w.get("address") == address:
            return True
        return any(any_widget_with_address(c, address) for k in ("tabs", "widgets") for c in w.get(k, []) or [])
    return False


def osc_messages(node):
    """(path, [(type, conversion, value, lo, hi)], send, receive) of a node."""
    out = []
    for osc in node.findall("./messages/osc"):
        path = "".join(p.findtext("value") or "" for p in osc.findall("./path/partial"))
        args = [
            (
                a.findtext("type"),
                a.findtext("conversion"),
                a.findtext("value"),
                float(a.findtext("scaleMin")),
                float(a.findtext("scaleMax")),
            )
            for a in osc.findall("./arguments/partial")
        ]
        out.append((path, args, osc.findtext("send") == "1", osc.findtext("receive") == "1"))
    return out


def problems_tosc(data, describe):
    out = []
    root = ET.fromstring(zlib.decompress(data))
    if root.tag != "lexml":
        return [f"root element {root.tag}"]
    sends = {}
    for node in root.iter("node"):
        for path, args, send, _ in osc_messages(node):
            if send:
                sends.setdefault(path, []).append((node.get("type"), args))
    for p in describe["params"]:
        a = p["address"]
        kind = p["kind"]
        if kind == "continuous" and p["taper"] == "log":
            hits = sends.get(a + "/norm", [])
            want = [("FADER", [("VALUE", "FLOAT", "x", 0.0, 1.0)])]
        elif kind == "continuous":
            hits = sends.get(a, [])
            want = [("FADER", [("VALUE", "FLOAT", "x", float(p["min"]), float(p["max"]))])]
        elif kind == "stepped" and p["max"] - p["min"] < MAX_BUTTONS:
            hits = sorted(sends.get(a, []), key=lambda h: int(h[1][0][2]))
            want = [
                ("BUTTON", [("CONSTANT", "INTEGER", str(v), 0.0, 1.0)])
                for v in range(p["min"], p["max"] + 1)
            ]
        elif kind == "stepped":
            hits = sends.get(a, [])
            want = [("FADER", [("VALUE", "INTEGER", "x", float(p["min"]), float(p["max"]))])]
        elif kind == "switch":
            hits = sends.get(a, [])
            want = [("BUTTON", [("VALUE", "INTEGER", "x", 0.0, 1.0)])]
        else:
            hits = sorted(sends.get(a, []), key=lambda h: h[1][0][2])
            want = sorted(
                [("BUTTON", [("CONSTANT", "STRING", l, 0.0, 1.0)]) for l in p["labels"]],
                key=lambda h: h[1][0][2],
            )
        if hits != want:
            out.append(f"{a}: {hits} for {want}")
    script = "".join(
        prop.findtext("value") or ""
        for prop in root.iter("property")
        if prop.findtext("key") == "script"
    )
    for need in ("/rackd/subscribe", "/rackd/snapshot/save", "/rackd/snapshot/recall"):
        if need not in script:
            out.append(f"no {need} in the scripts")
    for m in describe.get("meters", []):
        if f"['{m['address']}']" not in script:
            out.append(f"{m['address']}: not in the meter script")
    return out


def main():
    fmt, layout_file, describe_file = sys.argv[1:4]
    describe = json.load(open(describe_file))
    if fmt == "open-stage-control":
        problems = problems_osc(json.load(open(layout_file)), describe, sys.argv[4])
    else:
        problems = problems_tosc(open(layout_file, "rb").read(), describe)
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print(f"ok {len(describe['params'])} parameters")


if __name__ == "__main__":
    main()
