#!/usr/bin/env python3
"""Checks a generated tablet layout against `rackd ctl describe`, reading
the layout with Python's own parsers (json; zlib + xml.etree for TouchOSC),
independently of rackd's writer.

    check_layout.py open-stage-control rack.json describe.json HOST:PORT
    check_layout.py touchosc rack.tosc describe.json

For every parameter of the describe: a control with its OSC address (or
`A/norm` for a log-taper fader in TouchOSC) and its range in real units
(choices: every label; stepped controls with up to 12 positions: every
position, each button or menu entry labelled with the describe's detent
where the panel prints them, else its number). The snapshot page's scripts are run (layout_scripts.py: lua5.4
or node): save and recall send the current song, the song follows
`/rackd/snapshot/saved` and `recalled`, and each device the describe says
is set by hand (transport `manual`) has exactly one confirm control that
sends `/rackd/recall/confirm ,s DEVICE`. Prints one line per problem and exits 1, or
prints "ok N parameters" and exits 0.
"""

import json
import sys

import layout_scripts as L
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
            if len(p.get("detents", [])) == len(want):
                want = {"labels": p["detents"], "values": want}
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
    out += snapshot_problems_osc(layout, describe, target)
    return out


SONG = "album/01 it's \"here\""
SAVE, RECALL = "/rackd/snapshot/save", "/rackd/snapshot/recall"
CONFIRM = "/rackd/recall/confirm"


def manual_devices(describe):
    return sorted(d["id"] for d in describe.get("devices", []) if d.get("transport") == "manual")


def confirm_problems(confirmed, describe):
    """`confirmed`: {device: number of controls confirming it}."""
    want = manual_devices(describe)
    out = [f"{dev}: {confirmed.get(dev, 0)} confirm controls" for dev in want if confirmed.get(dev, 0) != 1]
    out += [f"{dev}: a confirm control, but the describe does not set it by hand" for dev in confirmed if dev not in want]
    return out


def snapshot_problems_osc(layout, describe, target):
    out = []
    scripts = L.open_stage_scripts(layout)
    for wid, address in (("snapshot_save", SAVE), ("snapshot_recall", RECALL)):
        if wid not in scripts:
            out.append(f"no {wid} button")
            continue
        got = L.js_sends(L.run_js(scripts[wid]["onValue"], widgets={"snapshot_song": SONG}))
        if got != [(target, address, [("s", SONG)])]:
            out.append(f"{wid} sends {got}")
    for wid, address in (("snapshot_saved", "/rackd/snapshot/saved"), ("snapshot_recalled", "/rackd/snapshot/recalled")):
        w = scripts.get(wid)
        if not w or w.get("address") != address:
            out.append(f"no {wid} variable on {address}")
            continue
        sets = [e["set"] for e in L.run_js(w["onValue"], value=[SONG, 3]) if "set" in e]
        if sets != [["snapshot_song", SONG]]:
            out.append(f"{wid}: sets {sets}")
    confirmed = {}
    for wid, w in scripts.items():
        for t, path, args in L.js_sends(L.run_js(w["onValue"], widgets={"snapshot_song": SONG})):
            if path == CONFIRM:
                if t != target or [a[0] for a in args] != ["s"]:
                    out.append(f"{wid}: {t} {path} {args}")
                    continue
                confirmed[args[0][1]] = confirmed.get(args[0][1], 0) + 1
    return out + confirm_problems(confirmed, describe)


def snapshot_problems_tosc(root, describe):
    out = []
    scripts = L.touchosc_scripts(root)
    for name, address in (("snapshot_save", SAVE), ("snapshot_recall", RECALL)):
        if name not in scripts:
            out.append(f"no {name} button")
            continue
        got = L.lua_sends(L.run_lua(scripts[name], "press", SONG))
        if got != [(address, [("s", SONG)])]:
            out.append(f"{name} sends {got}")
        # No song yet: nothing to save or recall.
        got = L.lua_sends(L.run_lua(scripts[name], "press", ""))
        if got:
            out.append(f"{name} with no song sends {got}")
    song = [n for n in root.iter("node") if any(
        p.findtext("key") == "name" and p.findtext("value") == "snapshot_song"
        for p in n.findall("./properties/property"))]
    received = {path for n in song for path, _, _, receive in osc_messages(n) if receive}
    for address in ("/rackd/snapshot/saved", "/rackd/snapshot/recalled"):
        if address not in received:
            out.append(f"snapshot_song does not receive {address}")
    confirmed = {}
    for name, script in scripts.items():
        if name == "rackd":
            continue
        for path, args in L.lua_sends(L.run_lua(script, "press", SONG)):
            if path == CONFIRM:
                if [a[0] for a in args] != ["s"]:
                    out.append(f"{name}: {path} {args}")
                    continue
                confirmed[args[0][1]] = confirmed.get(args[0][1], 0) + 1
    return out + confirm_problems(confirmed, describe)


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


def frame(node):
    for p in node.findall("./properties/property"):
        if p.findtext("key") == "frame":
            v = p.find("value")
            return tuple(v.findtext(k) for k in ("x", "y", "w", "h"))
    return None


def text(node):
    for v in node.findall("./values/value"):
        if v.findtext("key") == "text":
            return v.findtext("default")
    return None


def problems_tosc(data, describe):
    out = []
    root = ET.fromstring(zlib.decompress(data))
    if root.tag != "lexml":
        return [f"root element {root.tag}"]
    sends = {}
    # (path, constant) of a button: the text of the label on it (same frame).
    shown = {}
    for parent in root.iter("node"):
        kids = parent.findall("./children/node")
        labels = {frame(k): text(k) for k in kids if k.get("type") == "LABEL"}
        for node in kids:
            for path, args, send, _ in osc_messages(node):
                if send:
                    sends.setdefault(path, []).append((node.get("type"), args))
                if send and node.get("type") == "BUTTON" and args and args[0][0] == "CONSTANT":
                    shown[(path, args[0][2])] = labels.get(frame(node))
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
            steps = list(range(p["min"], p["max"] + 1))
            want = [("BUTTON", [("CONSTANT", "INTEGER", str(v), 0.0, 1.0)]) for v in steps]
            detents = p.get("detents", [])
            names = detents if len(detents) == len(steps) else [str(v) for v in steps]
            for v, name in zip(steps, names):
                if shown.get((a, str(v))) != name:
                    out.append(f"{a}: the button for {v} says {shown.get((a, str(v)))!r}, not {name!r}")
        elif kind == "stepped":
            hits = sends.get(a, [])
            want = [("FADER", [("VALUE", "INTEGER", "x", float(p["min"]), float(p["max"]))])]
        elif kind == "switch":
            hits = sends.get(a, [])
            want = [("BUTTON", [("VALUE", "INTEGER", "x", 0.0, 1.0)])]
        else:
            for l in p["labels"]:
                if shown.get((a, l)) != l:
                    out.append(f"{a}: the button for {l!r} says {shown.get((a, l))!r}")
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
    if "/rackd/subscribe" not in script:
        out.append("no /rackd/subscribe in the scripts")
    out += snapshot_problems_tosc(root, describe)
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
