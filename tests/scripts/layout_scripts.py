"""The scripts of a generated tablet layout, run in real interpreters: the
TouchOSC document's Lua in lua5.4 (after `luac5.4 -p`), the Open Stage
Control session's JavaScript in node, each with small stand-ins for the
tool's script API (touchosc_run.lua, open_stage_run.js). What a script
sends comes back as a list of (path, [(tag, value)]), with the target for
Open Stage Control."""

import json
import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


class ScriptError(Exception):
    pass


def touchosc_root(data):
    """The document's root element (`data`: a .tosc, compressed or not)."""
    try:
        data = zlib.decompress(data)
    except zlib.error:
        pass
    return ET.fromstring(data)


def touchosc_scripts(root):
    """{node name: script} of every node that has a script."""
    out = {}
    for node in root.iter("node"):
        props = {
            p.findtext("key"): p.findtext("value") or ""
            for p in node.findall("./properties/property")
        }
        if props.get("script"):
            out[props.get("name", "")] = props["script"]
    return out


def _events(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_lua(script, mode, arg=None, stdin=""):
    """Events of a TouchOSC script run in `mode` ("root" or "press")."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        check = subprocess.run(["luac5.4", "-p", f.name], capture_output=True, text=True)
        if check.returncode != 0:
            raise ScriptError(f"luac5.4 -p: {check.stderr.strip()}")
        cmd = ["lua5.4", os.path.join(HERE, "touchosc_run.lua"), f.name, mode]
        if arg is not None:
            cmd.append(arg)
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise ScriptError(f"lua5.4: {r.stderr.strip()}")
        return _events(r.stdout)
    finally:
        os.unlink(f.name)


def lua_sends(events):
    return [(e["send"][0], [tuple(a) for a in e["send"][1]]) for e in events if "send" in e]


def open_stage_scripts(session):
    """{widget id: widget} of every widget with an onValue script."""
    out = {}

    def walk(w):
        if isinstance(w, dict):
            if isinstance(w.get("onValue"), str):
                out[w.get("id", "")] = w
            for k in ("tabs", "widgets"):
                for c in w.get(k, []) or []:
                    walk(c)

    walk(session["content"])
    return out


def run_js(script, value=1, widgets=None):
    """Events of an Open Stage Control onValue script."""
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(script)
    try:
        cmd = ["node", os.path.join(HERE, "open_stage_run.js"), f.name, json.dumps(value), json.dumps(widgets or {})]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise ScriptError(f"node: {r.stderr.strip()}")
        return _events(r.stdout)
    finally:
        os.unlink(f.name)


def js_sends(events):
    """(target, path, [(tag, value)]) of each send."""
    return [(e["send"][0], e["send"][1], [tuple(a) for a in e["send"][2]]) for e in events if "send" in e]
