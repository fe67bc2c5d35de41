#!/usr/bin/env python3
"""Browses mDNS (python-zeroconf, an independent implementation) on loopback
for rackd's two services and prints each as "TYPE NAME PORT".

usage: mdns_browse.py INSTANCE_NAME [SECONDS]
Exits 0 once both `_oscjson._tcp` and `_osc._udp` of INSTANCE_NAME are found.
"""
import sys
import time

from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, Zeroconf

name = sys.argv[1]
deadline = time.time() + float(sys.argv[2] if len(sys.argv) > 2 else 20)
types = ["_oscjson._tcp.local.", "_osc._udp.local."]
found = {}


class Listener:
    def add_service(self, zc, type_, full):
        info = zc.get_service_info(type_, full, timeout=3000)
        if info and full.startswith(name):
            found[type_] = info.port

    update_service = add_service

    def remove_service(self, zc, type_, full):
        pass


zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
browsers = [ServiceBrowser(zc, t, Listener()) for t in types]
while time.time() < deadline and len(found) < len(types):
    time.sleep(0.1)
zc.close()
for t in types:
    if t in found:
        print(t, name, found[t])
sys.exit(0 if len(found) == len(types) else 1)
