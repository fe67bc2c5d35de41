"""Reads a rackd recall sheet (SVG) the way an outside tool would: Python's
XML parser collects the text of every control of every device panel, and
rsvg-convert renders each panel on its own (--export-id) to a PNG, decoded
here with zlib, in which the dark pixels ("ink") inside each control's cell
are counted. Prints one JSON document.

usage: sheet_panels.py SHEET.svg OUT_DIR
"""

import json
import struct
import subprocess
import sys
import zlib
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def texts(elem, cls):
    return [t.text or "" for t in elem.iter(SVG + "text") if t.get("class") == cls]


ZOOM = 0.5


def png_ink(path):
    """Width, height and the dark pixels (a set of (x, y)) of an 8-bit
    RGB(A) PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 4 if ctype == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    ink = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 255
        for x in range(width):
            r, g, bl = line[x * bpp : x * bpp + 3]
            alpha = line[x * bpp + 3] if bpp == 4 else 255
            if alpha > 128 and (r + g + bl) < 3 * 96:
                ink.add((x, y))
        prev = line
    return width, height, ink


def main():
    sheet, out_dir = sys.argv[1], sys.argv[2]
    root = ET.parse(sheet).getroot()
    devices = {}
    for panel in root.iter(SVG + "svg"):
        device = panel.get("data-device")
        if device is None:
            continue
        controls = {}
        for g in panel.iter(SVG + "g"):
            param = g.get("data-param")
            if param is None:
                continue
            cx, cy = float(g.get("data-cx")), float(g.get("data-cy"))
            controls[param] = {
                "cell": (cx, cy),
                "label": g.get("data-label"),
                "panel": g.get("data-panel"),
                "name": texts(g, "name"),
                "value": texts(g, "value"),
                "detents": texts(g, "detent"),
                "ends": texts(g, "end"),
                "notes": texts(g, "note"),
            }
        png = f"{out_dir}/{panel.get('id')}.png"
        run = subprocess.run(
            ["rsvg-convert", f"--zoom={ZOOM}", "--export-id=" + panel.get("id"), "-f", "png", "-o", png, sheet],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise SystemExit(f"rsvg-convert failed for {device}: {run.stderr}")
        width, height, ink = png_ink(png)
        for c in controls.values():
            # The control's cell: the knob or switch, its marks and its texts.
            cx, cy = c.pop("cell")
            x0, x1 = int((cx - 55) * ZOOM), int((cx + 55) * ZOOM)
            y0, y1 = int((cy - 45) * ZOOM), int((cy + 95) * ZOOM)
            c["ink"] = sum(1 for (x, y) in ink if x0 <= x < x1 and y0 <= y < y1)
        devices[device] = {
            "title": texts(panel, "title"),
            "source": texts(panel, "source"),
            "rows": texts(panel, "row"),
            "controls": controls,
            "png": {"width": width, "height": height, "ink": len(ink)},
        }
    print(json.dumps(devices))


main()
