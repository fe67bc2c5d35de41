#!/usr/bin/env python3
"""rackd's OSCQuery WebSocket from an independent client (the `websockets`
package, python-osc for the OSC frames, liblo's oscsend, rackd ctl).

usage: ws_check.py HTTP_URL OSC_PORT RACKD_BIN [TOKEN]
Prints one "ok: ..." line per check; exits 1 at the first that fails.
"""
import asyncio
import json
import subprocess
import sys

import websockets
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

url, osc_port, rackd = sys.argv[1], sys.argv[2], sys.argv[3]
token = sys.argv[4] if len(sys.argv) > 4 else None
ws_url = url.replace("http://", "ws://") + "/"
headers = {"Authorization": f"Bearer {token}"} if token else {}
WAIT = 10


def osc(address, *args):
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def messages(frame):
    """Every OSC message in a binary frame (bundles opened)."""
    if OscBundle.dgram_is_bundle(frame):
        out = []
        for item in OscBundle(frame):
            out.extend(messages(item.dgram) if isinstance(item, OscBundle) else [item])
        return out
    return [OscMessage(frame)]


async def until(ws, pred, what):
    """Reads frames until pred(kind, payload) holds; returns what was read."""
    seen = []

    async def read():
        while True:
            frame = await ws.recv()
            if isinstance(frame, str):
                seen.append(("text", json.loads(frame)))
                if pred("text", seen[-1][1]):
                    return
            else:
                for m in messages(frame):
                    seen.append(("osc", m))
                    if pred("osc", m):
                        return
    try:
        await asyncio.wait_for(read(), WAIT)
    except asyncio.TimeoutError:
        sys.exit(f"FAILED: no {what} within {WAIT}s; got {[(k, getattr(p, 'address', p)) for k, p in seen]}")
    return seen


def is_msg(address, value=None):
    def pred(kind, m):
        return kind == "osc" and m.address == address and (
            value is None or (m.params and abs(float(m.params[0]) - value) < 1e-3))
    return pred


async def synced(ws):
    """Sends a ping and waits for its pong: what was sent before is in."""
    await ws.send(osc("/rackd/ping", "sync"))
    return await until(ws, is_msg("/rackd/pong"), "pong")


def ctl(*args):
    return subprocess.run([rackd, "ctl", "--connect", f"127.0.0.1:{osc_port}", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


async def main():
    async with websockets.connect(ws_url, additional_headers=headers) as a, \
            websockets.connect(ws_url, additional_headers=headers) as b:
        for ws in (a, b):
            await ws.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/chain/trim/gain"}))
            await synced(ws)

        subprocess.run(["oscsend", "localhost", osc_port, "/chain/trim/gain", "f", "-7.25"], check=True)
        await until(a, is_msg("/chain/trim/gain", -7.25), "oscsend's set as a binary OSC frame")
        print("ok: an oscsend set arrives as a binary OSC frame")

        await a.send(osc("/chain/trim/gain", 3.5))
        await until(b, is_msg("/chain/trim/gain", 3.5), "A's set on B")
        got = ctl("get", "/chain/trim/gain")
        if got != "/chain/trim/gain 3.5":
            sys.exit(f"FAILED: ctl get says {got!r} after a WebSocket set of 3.5")
        print("ok: a WebSocket set reaches rackd ctl get and the other WebSocket client")

        await a.send(osc("/chain/trim/gain"))
        await until(a, is_msg("/chain/trim/gain", 3.5), "the answer to a query")
        print("ok: a query over the WebSocket is answered")

        ctl("layout", "meter", "trim")
        await until(a, lambda k, m: k == "text" and m == {"COMMAND": "PATH_CHANGED", "DATA": "/chain"},
                    "PATH_CHANGED /chain")
        ctl("layout", "trim", "meter")
        print("ok: a layout change sends PATH_CHANGED /chain")

        await a.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/meter/out/peak"}))
        seen = await until(a, is_msg("/meter/out/peak"), "a meter frame")
        peak = [m for k, m in seen if k == "osc" and m.address == "/meter/out/peak"][-1]
        if len(peak.params) != 2 or not all(isinstance(v, float) for v in peak.params):
            sys.exit(f"FAILED: /meter/out/peak has {peak.params}")
        print("ok: meters stream after LISTEN")

        await a.send(json.dumps({"COMMAND": "IGNORE", "DATA": "/meter/out/peak"}))
        await a.send(json.dumps({"COMMAND": "IGNORE", "DATA": "/chain/trim/gain"}))
        await a.send(json.dumps({"COMMAND": "LISTEN", "DATA": "/chain/trim/bypass"}))
        await synced(a)
        subprocess.run(["oscsend", "localhost", osc_port, "/chain/trim/gain", "f", "-1.5"], check=True)
        subprocess.run(["oscsend", "localhost", osc_port, "/chain/trim/bypass", "i", "1"], check=True)
        seen = await until(a, is_msg("/chain/trim/bypass", 1), "the bypass after IGNORE")
        if any(k == "osc" and m.address == "/chain/trim/gain" for k, m in seen):
            sys.exit("FAILED: /chain/trim/gain arrived after IGNORE")
        print("ok: IGNORE stops a stream")

        await a.send("this is not JSON")
        await until(a, is_msg("/rackd/error"), "an error for a bad command")
        await a.send(b"\x00\x01garbage")
        await until(a, is_msg("/rackd/error"), "an error for a bad OSC frame")
        await a.send(osc("/chain/trim/gain", "loud"))
        seen = await until(a, is_msg("/rackd/error"), "an error for a bad value")
        await synced(a)
        print("ok: bad commands, frames and values get /rackd/error and the connection stays")

        await a.send(osc("/rackd/snapshot/save", "ws/album/01 song", "from the websocket"))
        await until(a, is_msg("/rackd/snapshot/saved"), "the save's acknowledgement")
        history = ctl("history", "ws/album/01 song")
        if "from the websocket" not in history:
            sys.exit(f"FAILED: ctl history does not show the save: {history}")
        print("ok: /rackd/* requests over the WebSocket are answered on it")


asyncio.run(main())
