#!/usr/bin/env python3
"""Browses mDNS (python-zeroconf, an independent implementation) on loopback
for rackd's two services and prints each as "TYPE NAME PORT"; then, as an
OSCQuery client would, finds the service with python-oscquery's browser
and reads a node and the host info through its client.

usage: mdns_browse.py INSTANCE_NAME [SECONDS]
Exits 0 once both `_oscjson._tcp` and `_osc._udp` of INSTANCE_NAME are found
and read.
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
if len(found) < len(types):
    sys.exit(1)

from pythonoscquery.osc_query_browser import OSCQueryBrowser  # noqa: E402
from pythonoscquery.osc_query_client import OSCQueryClient  # noqa: E402

browser = OSCQueryBrowser()
service = None
while time.time() < deadline and service is None:
    time.sleep(0.2)
    service = browser.find_service_by_name(name)
if service is None:
    sys.exit("python-oscquery did not find the service")
client = OSCQueryClient(service)
info = client.get_host_info()
node = client.query_node("/chain/trim/gain")
print("python-oscquery host", info.name, "osc port", info.osc_port, info.osc_transport)
print("python-oscquery node", node.full_path, "value", node.value)
browser.zc.close()
