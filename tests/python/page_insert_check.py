#!/usr/bin/env python3
"""The engineer's page measures a hardware insert and runs a print pass, in a
real headless Chromium (Playwright driving the system's /usr/bin/chromium),
checked against rackd ctl.

usage: page_insert_check.py HTTP_URL FULL_TOKEN OSC_PORT RACKD_BIN CHROMIUM
                            SLOT SONG SOURCE OUTPUT SOURCE_FRAMES OUTPUT_PATH
Prints one "ok: ..." line per check; exits 1 at the first that fails.
"""
import json
import re
import subprocess
import sys
import tempfile

from playwright.sync_api import sync_playwright

from headless import open_page

(url, full, osc_port, rackd, chromium, slot, song, source, output,
 source_frames, output_path) = sys.argv[1:12]
source_frames = int(source_frames)
connect = f"127.0.0.1:{osc_port}"
WAIT = 15_000
# Dummy jackd has xruns now and then; the daemon refuses a take with one in
# it (it says so), and then the page is asked again, up to this many times.
TRIES = 20


def ctl(*args):
    return subprocess.run([rackd, "ctl", "--connect", connect, *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def fail(msg):
    sys.exit("FAILED: " + msg)


# Records every state the element passes through (a change can be quicker
# than a poll): window.seen[key] gets [attribute values..., text] each time.
OBSERVE = """([key, selector, attrs]) => {
  window.seen = window.seen || {};
  window.seen[key] = [];
  const e = document.querySelector(selector);
  const note = () => window.seen[key].push(attrs.map((a) => e.getAttribute(a)).concat([e.textContent]));
  note();
  new MutationObserver(note).observe(e, { attributes: true, childList: true, characterData: true, subtree: true });
}"""

errors = []
refused_requests = 0  # measurements the daemon refused for xruns (a 4xx in the console)
with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
    browser, page = open_page(pw, profile, chromium, errors)

    page.goto(f"{url}/ui/?token={full}")
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT)
    print("ok: the page loads")

    # --- the insert's round trip, measured from its card
    card = page.locator(f"#chain [data-slot={slot}]")
    button = card.locator("button", has_text="Measure round trip")
    result = f"[data-measured={slot}]"
    if button.count() != 1 or page.locator(result).count() != 1:
        fail(f"the {slot} card has no Measure round trip button and result")
    for attempt in range(1, TRIES + 1):
        page.evaluate(OBSERVE, ["measure", result, ["data-measure"]])
        button.click()
        page.wait_for_selector(f"{result}[data-measure=done], {result}[data-measure=failed]", timeout=60_000)
        state = page.get_attribute(result, "data-measure")
        text = page.inner_text(result)
        if state == "done":
            break
        if "xruns during each of" not in text or attempt == TRIES:
            fail(f"the measurement failed on the page: {text!r}")
        refused_requests += 1
        print(f"measurement attempt {attempt}: {text}")
    seen = page.evaluate("window.seen.measure")
    states = [s[0] for s in seen]
    if "running" not in states or states.index("running") > states.index("done"):
        fail(f"the card never showed the running state before the result: {seen}")
    running = [s[1] for s in seen if s[0] == "running"]
    if not any(t.startswith("measuring") for t in running):
        fail(f"while running, the card says {running}")
    if not button.is_enabled():
        fail("the Measure button stays disabled after the measurement")
    m = re.fullmatch(r"round trip (\d+) samples \((\d+\.\d\d) ms\)(, inverted)?; return (-?\d+\.\d) dB", text)
    if not m:
        fail(f"the card's result reads {text!r}")
    samples = int(m.group(1))
    stored = ctl("get", f"/chain/{slot}/latency")
    if stored != f"/chain/{slot}/latency {samples}":
        fail(f"the page shows a round trip of {samples} samples, ctl get says {stored!r}")
    status = json.loads(ctl("status"))
    if m.group(2) != f"{samples / status['sample_rate'] * 1000:.2f}":
        fail(f"{samples} samples shown as {m.group(2)} ms at {status['sample_rate']} Hz")
    if m.group(3) or m.group(4) != "0.0":
        fail(f"a cable from send to return reads as {text!r} (no inversion, 0 dB expected)")
    print(f"ok: measure round trip shows measuring, then the round trip ctl reports: {text}")

    # --- the print pass, started from the page's form
    page.fill("#print-song", song)
    page.fill("#print-input", source)
    page.fill("#print-output", output)
    page.select_option("#print-bits", "32")
    if not page.locator("#print-progress").is_hidden():
        fail("the print progress shows before a print")
    for attempt in range(1, TRIES + 1):
        page.evaluate(OBSERVE, ["progress", "#print-progress", ["hidden", "value"]])
        page.click("#print")
        page.wait_for_function(
            "() => /^(wrote|print failed)/.test(document.querySelector('#print-report').textContent)",
            timeout=60_000)
        report = page.inner_text("#print-report")
        if report.startswith("wrote"):
            break
        if "xrun" not in report or attempt == TRIES:
            fail(f"the print failed on the page: {report!r}")
        print(f"print attempt {attempt}: {report}")
    seen = page.evaluate("window.seen.progress")
    # [hidden, value, text] per change, from the click on.
    shown = [float(v) for hidden, v, _ in seen if hidden is None and v is not None]
    partial = sorted(set(v for v in shown if 0 < v < 1))
    if len(partial) < 2:
        fail(f"the progress bar did not advance through the print: {seen}")
    if any(b < a for a, b in zip(shown, shown[1:]) if a > 0):
        fail(f"the progress bar went back during the print: {shown}")
    if not page.locator("#print-progress").is_visible() or page.evaluate(
            "document.querySelector('#print-progress').value") != 1:
        fail(f"after the print, the bar is not full and shown: {seen[-1]}")
    print(f"ok: a print from the page shows its progress advancing ({len(partial)} steps: "
          f"{', '.join(f'{v:.2f}' for v in partial)})")

    latency = json.loads(ctl("status"))["latency_samples"]
    if latency != samples:
        fail(f"the chain's latency is {latency}, not the insert's {samples}")
    expected = (f"wrote {output_path}: {source_frames} frames at {status['sample_rate']} Hz, "
                f"{latency} samples of latency removed")
    if report.strip() != expected:
        fail(f"the page's print report reads {report!r}, expected {expected!r}")
    print(f"ok: the print's report on the page: {report.strip()}")

    # A measurement the daemon refused for xruns is a failed request (it is
    # reported on the card); nothing else may go wrong.
    failed = [e for e in errors if "Failed to load resource" in e]
    others = [e for e in errors if "Failed to load resource" not in e]
    if others or len(failed) > refused_requests:
        fail("console errors: " + "; ".join(errors))
    print("ok: no console errors")
    browser.close()
