"""Checks an analyze report the way a reader's browser sees it.

Usage: report_check.py REPORT.html SCREENSHOT.png [--full] [--width PX] [--height PX]

Parses the file with html5lib in strict mode (any parse error fails), opens
it in the real headless Chromium (/usr/bin/chromium through playwright; no
browser download), and prints one JSON object: console messages, page
errors, requests that were not for the file itself, every plot's size and
element count, the number of <script> elements, and how much of the
screenshot is not white.
"""

import json
import struct
import sys
import tempfile
import zlib

import html5lib
from playwright.sync_api import sync_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def png_rows(data):
    """Decodes an 8-bit RGB/RGBA, non-interlaced PNG into rows of pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
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
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[x * bpp : x * bpp + 3]) for x in range(width)])
        prev = line
    return rows


def main():
    args = sys.argv[1:]
    html_path, shot = args[0], args[1]
    full = "--full" in args
    width = int(args[args.index("--width") + 1]) if "--width" in args else 1100
    height = int(args[args.index("--height") + 1]) if "--height" in args else 1400

    with open(html_path, "rb") as f:
        html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(f)

    console, errors, requests = [], [], []
    url = "file://" + html_path
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path="/usr/bin/chromium",
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height},
        )
        page = ctx.new_page()
        page.on("console", lambda m: console.append({"type": m.type, "text": m.text}))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: r.url != url and requests.append(r.url))
        page.goto(url, wait_until="load")
        plots = page.evaluate(
            """() => [...document.querySelectorAll('svg[data-plot]')].map(s => {
                const b = s.getBoundingClientRect();
                return {plot: s.dataset.plot, width: b.width, height: b.height,
                        elements: s.querySelectorAll('*').length,
                        drawn: s.querySelectorAll('polyline, polygon, rect, line, circle, path').length,
                        missing: s.classList.contains('missing'),
                        text: s.textContent,
                        clip_marks: s.querySelectorAll('line.clip:not(.line)').length};
            })"""
        )
        scripts = page.evaluate("() => document.querySelectorAll('script').length")
        page.screenshot(path=shot, full_page=full)
        ctx.close()

    with open(shot, "rb") as f:
        rows = png_rows(f.read())
    pixels = [px for row in rows[::4] for px in row[::4]]
    nonwhite = sum(1 for px in pixels if min(px) < 235) / len(pixels)
    colours = len(set(pixels))
    print(
        json.dumps(
            {
                "console": console,
                "errors": errors,
                "requests": requests,
                "plots": plots,
                "scripts": scripts,
                "nonwhite": nonwhite,
                "colours": colours,
                "size": [len(rows[0]), len(rows)],
            }
        )
    )


if __name__ == "__main__":
    main()
