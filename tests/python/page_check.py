#!/usr/bin/env python3
"""The engineer's page in a real headless Chromium (Playwright driving the
system's /usr/bin/chromium), checked against rackd ctl and liblo's oscsend.

usage: page_check.py HTTP_URL FULL_TOKEN READ_ONLY_TOKEN OSC_PORT RACKD_BIN CHROMIUM
Prints one "ok: ..." line per check; exits 1 at the first that fails.
"""
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

from headless import open_page

url, full, look, osc_port, rackd, chromium = sys.argv[1:7]
connect = f"127.0.0.1:{osc_port}"
SONG = "client/album/02 page"
WAIT = 15_000


def ctl(*args):
    return subprocess.run([rackd, "ctl", "--connect", connect, *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def ctl_value(address):
    return float(ctl("get", address).split()[-1])


def wait_until(what, pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    sys.exit(f"FAILED: {what}")


def fail(msg):
    sys.exit("FAILED: " + msg)


errors = []
with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
    browser, page = open_page(pw, profile, chromium, errors)

    page.goto(f"{url}/ui/?token={full}")
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    if page.url != f"{url}/ui/":
        fail(f"the token should leave the address bar, it is {page.url}")
    print("ok: the page loads (the token kept in a cookie)")

    gain = page.locator('input[type=number][data-address="/chain/trim/gain"]')
    gain.fill("-4.5")
    gain.press("Enter")
    wait_until("ctl get to show the page's -4.5", lambda: ctl_value("/chain/trim/gain") == -4.5)
    print("ok: a control moved on the page reaches rackd ctl get")

    subprocess.run(["oscsend", "localhost", osc_port, "/chain/trim/gain", "f", "6.25"], check=True)
    page.wait_for_function(
        "() => document.querySelector('input[type=number][data-address=\"/chain/trim/gain\"]').value === '6.25'",
        timeout=WAIT)
    slider = page.locator('input[type=range][data-address="/chain/trim/gain"]')
    if slider.input_value() != str(round((6.25 + 24) / 48 * 1000)):
        fail(f"the fader is at {slider.input_value()} for 6.25 dB")
    print("ok: an oscsend set moves the page's control")

    passive = page.locator('select[data-address="/outboard/passive/low_freq"]')
    labels = passive.locator("option").all_inner_texts()
    if not labels or not labels[0].startswith("20"):
        fail(f"the stepped control shows {labels}, not its printed detents")
    passive.select_option("2")
    wait_until("the detent to reach the rack", lambda: ctl("get", "/outboard/passive/low_freq").endswith(" 2"))
    print("ok: stepped controls show their printed labels and set the detent")

    # Drag trim below meter: the chain plays meter, then trim.
    if ctl("get", "/chain/trim/position") != "/chain/trim/position 0":
        fail("trim should play first before the drag: " + ctl("get", "/chain/trim/position"))
    meter_card = page.locator("#chain [data-slot=meter]")
    box = meter_card.bounding_box()
    page.locator("#chain [data-slot=trim] .handle").drag_to(
        meter_card, target_position={"x": box["width"] / 2, "y": box["height"] - 2})
    wait_until("trim to play second after the drag",
               lambda: ctl("get", "/chain/trim/position") == "/chain/trim/position 1")
    if ctl("get", "/chain/meter/position") != "/chain/meter/position 0":
        fail("meter should play first after the drag: " + ctl("get", "/chain/meter/position"))
    order = page.eval_on_selector_all("#chain [data-slot]", "cs => cs.map(c => c.dataset.slot)")
    if order != ["meter", "trim"]:
        fail(f"the page shows the chain as {order}")
    print("ok: dragging a slot reorders the chain (ctl get /chain/<slot>/position)")

    page.fill("#save-song", SONG)
    page.fill("#save-note", "saved from the page")
    page.click("#save")
    page.wait_for_selector("#history tr[data-rev='1']", timeout=WAIT)
    if "saved from the page" not in ctl("history", SONG):
        fail("ctl history does not show the page's save")
    print("ok: a save from the page is in the history, with its note")

    subprocess.run(["oscsend", "localhost", osc_port, "/chain/trim/gain", "f", "-12"], check=True)
    subprocess.run(["oscsend", "localhost", osc_port, "/outboard/passive/low_freq", "i", "0"], check=True)
    wait_until("the oscsend to land", lambda: ctl_value("/chain/trim/gain") == -12.0)
    page.click("#history button[data-recall='1']")
    page.wait_for_selector("#recall-report li[data-report='passive']", timeout=WAIT)
    line = page.inner_text("#recall-report li[data-report='passive']")
    if line != "passive: waiting for manual confirmation":
        fail(f"the page's recall report says {line!r}")
    wait_until("the recall to bring 6.25 back", lambda: ctl_value("/chain/trim/gain") == 6.25)
    wait_until("the recall to set the detent back", lambda: ctl("get", "/outboard/passive/low_freq").endswith(" 2"))
    page.wait_for_function(
        "() => document.querySelector('input[type=number][data-address=\"/chain/trim/gain\"]').value === '6.25'",
        timeout=WAIT)
    print("ok: a recall from the page brings the song back and its report is shown")

    song_button = page.locator(f"#songs button[data-song='{SONG}']")
    nesting = song_button.evaluate(
        "b => { const out = []; for (let d = b.closest('details'); d; d = d.parentElement.closest('details'))"
        " out.push(d.querySelector('summary').innerText); return out; }")
    if nesting != ["album", "client"]:
        fail(f"the song is not under client/album in the tree: {nesting}")
    # A second revision at another gain, from the page.
    gain.fill("-9")
    gain.press("Enter")
    wait_until("ctl get to show -9", lambda: ctl_value("/chain/trim/gain") == -9.0)
    page.fill("#save-song", SONG)
    page.fill("#save-note", "quieter")
    page.click("#save")
    page.wait_for_selector("#history tr[data-rev='2']", timeout=WAIT)
    notes = page.eval_on_selector_all("#history td.note", "ts => ts.map(t => t.innerText)")
    if notes != ["quieter", "saved from the page"]:
        fail(f"the history shows the notes {notes}")
    print("ok: the song tree nests client/album/song and the history lists both revisions with notes")

    page.click("#history tr[data-rev='1'] button:text-is('A')")
    page.click("#history tr[data-rev='2'] button:text-is('B')")
    page.click("#diff")
    row = page.locator("#diff-table tr", has_text="/chain/trim/gain")
    row.wait_for(timeout=WAIT)
    cells = row.locator("td").all_inner_texts()
    if cells != ["/chain/trim/gain", "6.25", "-9"]:
        fail(f"the diff of rev 1 and rev 2 shows {cells}")
    expected = [line.split(": ", 1)[0] for line in ctl("diff", f"{SONG}@1", f"{SONG}@2").splitlines()
                if " -> " in line]
    shown = page.eval_on_selector_all("#diff-table tr td:first-child", "ts => ts.map(t => t.innerText)")
    if sorted(shown) != sorted(expected):
        fail(f"the page's diff {shown} is not ctl diff's {expected}")
    print("ok: the diff of two revisions shows what changed")

    # Changed-only recall of rev 1 moves the gain back; undo puts -9 back.
    page.click("#history button[data-recall-changed='1']")
    page.wait_for_function(
        "() => document.querySelector('#recall-title').innerText.startsWith('Recalled')", timeout=WAIT)
    wait_until("the changed-only recall to bring 6.25 back", lambda: ctl_value("/chain/trim/gain") == 6.25)
    step = page.inner_text("#recall-step")
    if "changed" not in step:
        fail(f"the changed-only recall says {step!r}")
    page.click("#undo")
    wait_until("undo to put -9 back", lambda: ctl_value("/chain/trim/gain") == -9.0)
    page.wait_for_function(
        "() => document.querySelector('#recall-title').innerText === 'Undo'", timeout=WAIT)
    print("ok: a changed-only recall and its undo from the page")

    page.wait_for_selector("[data-device-state=passive].waiting", timeout=WAIT)
    page.wait_for_selector("img[data-sheet=passive]", timeout=WAIT)
    if not page.evaluate("() => document.querySelector('img[data-sheet=passive]').naturalWidth > 0"):
        page.wait_for_function("() => document.querySelector('img[data-sheet=passive]').naturalWidth > 0",
                               timeout=WAIT)
    page.click("button[data-confirm=passive]")
    page.wait_for_selector("[data-device-state=passive].manual", timeout=WAIT)
    state = json.loads(ctl("status"))
    if [d["state"] for d in state["devices"] if d["id"] == "passive"] != ["manual"]:
        fail(f"after done, ctl status says {state['devices']}")
    print("ok: the recall sheet is drawn and done confirms the hand-set device")

    page.wait_for_function(
        "() => { const t = document.querySelector('[data-point=out]'); return t && /-?\\d/.test(t.innerText); }",
        timeout=WAIT)
    print("ok: meters are drawn")

    t0, n0 = time.time(), page.evaluate("page.meterTicks")
    time.sleep(2.0)
    t1, n1 = time.time(), page.evaluate("page.meterTicks")
    rate = (n1 - n0) / (t1 - t0)
    if rate < 10:
        fail(f"meters reach the page at {rate:.1f} updates/s (about 25 expected)")
    print(f"ok: meters update at {rate:.1f}/s")

    gone = json.loads(ctl("status"))
    why = [d.get("error") for d in gone["devices"] if d["id"] == "gone"]
    page.wait_for_selector("[data-device-state=gone].offline", timeout=WAIT)
    shown = page.inner_text("[data-device-why=gone]")
    if not why or not why[0] or shown != why[0]:
        fail(f"the offline card says {shown!r}, ctl status {why}")
    print(f"ok: an offline device's card says why: {shown}")

    link = page.locator("#reports tr[data-report-file='mix.html'] a")
    link.wait_for(timeout=WAIT)
    with browser.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    if "mix.html" not in report.url or "<header>" not in report.content():
        fail(f"the report opened as {report.url}: {report.content()[:200]}")
    report.close()
    print("ok: the reports directory is listed and a report opens")

    before = ctl("get", "/chain/trim/gain")
    # Another browser, so the read-only token's cookie is its own.
    ro_browser = pw.chromium.launch(
        executable_path=chromium, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    ro = ro_browser.new_context().new_page()
    ro_errors = []
    ro.on("console", lambda m: m.type == "error" and ro_errors.append(m.text))
    ro.goto(f"{url}/ui/?token={look}")
    ro.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    errors.extend("read-only page: " + e for e in ro_errors)
    if not ro.locator('input[type=number][data-address="/chain/trim/gain"]').is_disabled():
        fail("a read-only page has live controls")
    status = ro.evaluate("""async () => (await fetch('/chain/trim/gain', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: '[1.0]'})).status""")
    if status != 403:
        fail(f"a read-only POST answered {status}")
    if ctl("get", "/chain/trim/gain") != before:
        fail("a read-only POST changed the rack")
    print("ok: a read-only page cannot change anything (403)")

    if errors:
        fail("console errors: " + "; ".join(errors))
    print("ok: no console errors")
    ro_browser.close()
    browser.close()
