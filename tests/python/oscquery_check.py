#!/usr/bin/env python3
"""Checks rackd's OSCQuery namespace against `rackd ctl describe`, parameter
by parameter, with the attributes the OSCQuery proposal defines.

usage: oscquery_check.py HTTP_URL RACKD_BIN OSC_HOST:PORT
Prints "checked N parameters" and exits 0, or names every mismatch and exits 1.
"""
import json
import subprocess
import sys
import urllib.error
import urllib.request

url, rackd, connect = sys.argv[1], sys.argv[2], sys.argv[3]
problems = []


def get(path, expect=200):
    try:
        with urllib.request.urlopen(url + path, timeout=10) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    if status != expect:
        problems.append(f"GET {path}: HTTP {status}, expected {expect}")
        return None
    return json.loads(body) if status == 200 and body else None


# The proposal's unit names (its units.md list) for rackd's units.
UNITS = {"db": "gain.db", "dbfs": "gain.db", "hz": "time.hz", "ms": "time.ms"}

describe = json.loads(
    subprocess.run([rackd, "ctl", "--connect", connect, "describe"],
                   check=True, capture_output=True, text=True).stdout)
root = get("/")


def node(path):
    n = root
    for part in path.strip("/").split("/"):
        n = (n or {}).get("CONTENTS", {}).get(part)
    return n


def close(a, b):
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))


for p in describe["params"]:
    a = p["address"]
    n = node(a)
    if n is None:
        problems.append(f"{a}: not in the namespace")
        continue

    def want(key, value):
        if n.get(key) != value:
            problems.append(f"{a}: {key} is {n.get(key)!r}, describe says {value!r}")

    want("FULL_PATH", a)
    want("ACCESS", 3)
    kind = p["kind"]
    want("TYPE", {"continuous": "f", "stepped": "i", "switch": "i", "enum": "s"}[kind])
    value = n.get("VALUE", [None])[0]
    if kind == "continuous":
        if value is None or not close(value, p["value"]):
            problems.append(f"{a}: VALUE {value!r}, describe says {p['value']!r}")
        r = n.get("RANGE", [{}])[0]
        if not (close(r.get("MIN"), p["min"]) and close(r.get("MAX"), p["max"])):
            problems.append(f"{a}: RANGE {r}, describe says {p['min']}..{p['max']}")
    else:
        want("VALUE", [p["value"]])
    if kind == "enum":
        want("RANGE", [{"VALS": p["labels"]}])
    if kind == "stepped":
        r = n.get("RANGE", [{}])[0]
        if r.get("MIN") != p["min"] or r.get("MAX") != p["max"]:
            problems.append(f"{a}: RANGE {r}, describe says {p['min']}..{p['max']}")
        if p.get("detents"):
            want("LABELS", p["detents"])
            if r.get("VALS") != list(range(p["min"], p["max"] + 1)):
                problems.append(f"{a}: VALS {r.get('VALS')} are not the positions {p['min']}..{p['max']}")
    if kind == "switch":
        want("RANGE", [{"MIN": 0, "MAX": 1, "VALS": [0, 1]}])
    if p["unit"] in UNITS:
        want("UNIT", [UNITS[p["unit"]]])
    elif "UNIT" in n:
        problems.append(f"{a}: UNIT {n['UNIT']} for unit {p['unit']}")
    if kind != "enum" and p["out_of_range"] == "clamp":
        want("CLIPMODE", ["both"])
    if not n.get("DESCRIPTION", "").startswith(p["name"]):
        problems.append(f"{a}: DESCRIPTION {n.get('DESCRIPTION')!r} does not name {p['name']!r}")
    # Single attributes answer with the same thing as the tree.
    one = get(a + "?VALUE")
    if one is not None and one != {"VALUE": n.get("VALUE")}:
        problems.append(f"{a}?VALUE is {one}, the tree has {n.get('VALUE')}")

# Nothing in the namespace (but meters) that describe does not know.
known = {p["address"] for p in describe["params"]}


def leaves(n):
    if "CONTENTS" in n:
        for child in n["CONTENTS"].values():
            yield from leaves(child)
    else:
        yield n


for leaf in leaves(root or {}):
    path = leaf["FULL_PATH"]
    if path.startswith("/meter/"):
        if leaf.get("ACCESS") != 1 or not leaf.get("TYPE", "").strip("f") == "":
            problems.append(f"{path}: a meter must be ACCESS 1 with float values: {leaf}")
    elif path not in known:
        problems.append(f"{path}: in the namespace but not in describe")

host = get("/?HOST_INFO")
if host is not None:
    osc_port = int(connect.rsplit(":", 1)[1])
    for key, value in [("OSC_PORT", osc_port), ("OSC_TRANSPORT", "UDP"),
                       ("WS_PORT", int(url.rsplit(":", 1)[1]))]:
        if host.get(key) != value:
            problems.append(f"HOST_INFO {key} is {host.get(key)!r}, expected {value!r}")
    for ext in ["LISTEN", "PATH_CHANGED", "VALUE", "RANGE", "UNIT", "CLIPMODE", "ACCESS", "DESCRIPTION"]:
        if host.get("EXTENSIONS", {}).get(ext) is not True:
            problems.append(f"HOST_INFO EXTENSIONS lacks {ext}")
get("/no/such/node", expect=404)
get("/chain?VALUE", expect=204)
get("/chain/trim/gain?NOT_AN_ATTRIBUTE", expect=400)
if get("/chain?TYPE") != {}:
    problems.append("/chain?TYPE should be {} (a container has no type)")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print(f"checked {len(describe['params'])} parameters")
