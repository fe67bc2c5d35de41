#!/usr/bin/env python3
"""An independent OSC-over-TCP client for rackd's tests (python-osc).

usage: osc_tcp_client.py PORT MODE VALUE
  MODE is python-osc's framing: "1.1" (SLIP) or "1.0" (int32 length prefix).
Sets /chain/trim/gain to VALUE, queries it and its /norm, then pings; prints
every reply as "ADDRESS ARG..." and exits 0 once the pong arrived.
"""

import sys
import time

from pythonosc.tcp_client import SimpleTCPClient


def main() -> int:
    port, mode, value = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    client = SimpleTCPClient("127.0.0.1", port, mode=mode, timeout=10.0)
    client.send_message("/chain/trim/gain", value)
    client.send_message("/chain/trim/gain", [])
    client.send_message("/chain/trim/gain/norm", [])
    client.send_message("/rackd/ping", 4242)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for msg in client.get_messages(timeout=1.0):
            print(msg.address, *msg.params, flush=True)
            if msg.address == "/rackd/pong" and list(msg.params) == [4242]:
                client.close()
                return 0
    print("no /rackd/pong within 20 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
