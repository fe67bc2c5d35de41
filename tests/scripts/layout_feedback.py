#!/usr/bin/env python3
"""Feedback through a generated layout, end to end: runs the layout's own
scripts (layout_scripts.py: lua5.4 for TouchOSC, node for Open Stage
Control), sends exactly the messages they send to a running rackd with
python-osc, sets ADDRESS to VALUE with liblo's `oscsend`, and waits for
the feedback at the layout's receive port.

    layout_feedback.py touchosc rack.tosc HOST:PORT RECEIVE_PORT ADDRESS VALUE
    layout_feedback.py open-stage-control rack.json HOST:PORT 0 ADDRESS VALUE

TouchOSC sends to the connection set in the app (HOST:PORT) and receives
on its receive port; Open Stage Control sends to each message's target
and receives on the port it sends from. Prints "ok ..." and exits 0, or
prints the problem and exits 1.
"""

import json
import os
import socket
import subprocess
import sys
import time

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

import layout_scripts as L

WAIT_S = float(os.environ.get("LAYOUT_FEEDBACK_WAIT_S", "10"))


def fail(why):
    print(why)
    sys.exit(1)


def encode(path, args):
    b = OscMessageBuilder(address=path)
    for tag, value in args:
        b.add_arg(value, tag)
    return b.build().dgram


def messages(dgram):
    def flat(item):
        if isinstance(item, OscBundle):
            for c in item:
                yield from flat(c)
        else:
            yield item

    return flat(OscBundle(dgram) if OscBundle.dgram_is_bundle(dgram) else OscMessage(dgram))


def hostport(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    fmt, layout_file, daemon, receive_port, address, value = sys.argv[1:7]
    daemon = hostport(daemon)
    value = float(value)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", int(receive_port)))
    meter_lines = []
    if fmt == "touchosc":
        scripts = L.touchosc_scripts(L.touchosc_root(open(layout_file, "rb").read()))
        if "rackd" not in scripts:
            fail("no root script")
        sent = L.lua_sends(L.run_lua(scripts["rackd"], "root"))
        # The app sends from a port of its own; feedback must find the receive port.
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        outgoing = [(daemon, p, a) for p, a in sent]
    else:
        session = json.load(open(layout_file))
        connect = {i: w for i, w in L.open_stage_scripts(session).items() if i.startswith("connect_")}
        if not connect:
            fail("no connect button")
        # The connect button of the first page (every page has the same).
        first = next(iter(connect.values()))
        outgoing = [(hostport(t), p, a) for t, p, a in L.js_sends(L.run_js(first["onValue"]))]
        tx = rx
    if not outgoing:
        fail("the layout's scripts send nothing on load")
    for to, path, args in outgoing:
        tx.sendto(encode(path, args), to)

    def wait(pred, what):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            rx.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, _ = rx.recvfrom(65536)
            except socket.timeout:
                break
            for m in messages(data):
                if m.address.startswith("/meter/") and m.address.endswith("/peak") and not meter_lines:
                    meter_lines.append(m.address + "".join(f" f {v}" for v in m.params))
                if pred(m):
                    return m
        fail(f"no {what} at port {rx.getsockname()[1]} within {WAIT_S} s (sent {[(p, a) for _, p, a in outgoing]})")

    # Subscribing sends the current value of everything it matches.
    wait(lambda m: m.address == address, f"current value of {address}")
    subprocess.run(["oscsend", daemon[0], str(daemon[1]), address, "f", str(value)], check=True)
    wait(
        lambda m: m.address == address and m.params and abs(float(m.params[0]) - value) < 1e-4,
        f"feedback {address} {value}",
    )
    extra = ""
    if fmt == "touchosc":
        # The meter script moves the bars from what arrives.
        wait(lambda m: bool(meter_lines), "meter message")
        events = L.run_lua(scripts["rackd"], "root", stdin=meter_lines[0] + "\n")
        sets = [e["set"] for e in events if "set" in e]
        words = meter_lines[0].split()
        want = [min(1.0, max(0.0, (float(v) + 60.0) / 66.0)) for v in words[2::2]]
        got = [s[2] for s in sets]
        if len(got) != len(want) or any(abs(g - w) > 1e-9 for g, w in zip(got, want)):
            fail(f"meter {meter_lines[0]}: bars {sets}, want {want}")
        extra = f", meter bars {['%.3f' % g for g in got]}"
    print(f"ok {address} {value} came back to port {rx.getsockname()[1]}{extra}")


if __name__ == "__main__":
    main()
