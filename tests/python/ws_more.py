#!/usr/bin/env python3
"""More of rackd's WebSocket from the `websockets` package: what a read-only
token may do there, and PATH_CHANGED when a device's state changes.

usage: ws_more.py read-only HTTP_URL TOKEN
       ws_more.py device HTTP_URL TOKEN DEVICE
read-only: a set is answered with /rackd/error (read-only) and a query still works.
device: prints "ready" once connected, then waits for PATH_CHANGED /outboard/DEVICE
(the test pulls the device's cable after "ready").
Prints one "ok: ..." line per check; exits 1 at the first that fails.
"""
import asyncio
import json
import sys

import websockets
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

mode, url, token = sys.argv[1:4]
ws_url = url.replace("http://", "ws://") + "/"
headers = {"Authorization": f"Bearer {token}"}
WAIT = 20


def osc(address, *args):
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


async def next_matching(ws, pred, what):
    seen = []

    async def read():
        while True:
            frame = await ws.recv()
            item = json.loads(frame) if isinstance(frame, str) else None
            if item is None and not frame.startswith(b"#bundle"):
                item = OscMessage(frame)
            seen.append(item)
            if item is not None and pred(item):
                return item
    try:
        return await asyncio.wait_for(read(), WAIT)
    except asyncio.TimeoutError:
        sys.exit(f"FAILED: no {what} within {WAIT}s; got "
                 f"{[getattr(s, 'address', s) for s in seen]}")


def is_osc(address):
    return lambda m: isinstance(m, OscMessage) and m.address == address


async def read_only():
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        await ws.send(osc("/chain/trim/gain", 5.0))
        err = await next_matching(ws, is_osc("/rackd/error"), "an error for the read-only set")
        if err.params[0] != "/chain/trim/gain" or "read-only" not in err.params[1]:
            sys.exit(f"FAILED: the read-only set got {err.params}")
        print("ok: a read-only set over the WebSocket gets /rackd/error (read-only)")
        await ws.send(osc("/rackd/snapshot/save", "ro/album/01 song"))
        err = await next_matching(ws, is_osc("/rackd/error"), "an error for the read-only save")
        if "read-only" not in err.params[1]:
            sys.exit(f"FAILED: the read-only save got {err.params}")
        await ws.send(osc("/chain/trim/gain"))
        got = await next_matching(ws, is_osc("/chain/trim/gain"), "the answer to a query")
        print(f"ok: a read-only client may still ask: gain {got.params[0]}")


async def device(dev):
    want = {"COMMAND": "PATH_CHANGED", "DATA": f"/outboard/{dev}"}
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        await ws.send(osc("/rackd/ping", "ready"))
        await next_matching(ws, is_osc("/rackd/pong"), "pong")
        print("ready", flush=True)
        await next_matching(ws, lambda m: m == want, f"PATH_CHANGED /outboard/{dev}")
        print(f"ok: PATH_CHANGED /outboard/{dev}", flush=True)


if mode == "read-only":
    asyncio.run(read_only())
elif mode == "device":
    asyncio.run(device(sys.argv[4]))
else:
    sys.exit(f"unknown mode {mode}")
