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
    browser = pw.chromium.launch_persistent_context(
        profile, executable_path=chromium, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    page = browser.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))

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
