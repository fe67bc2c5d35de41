"""Headless Chromium for the page tests: one persistent-profile browser with
the flags the tests need, and a page whose console errors and uncaught
exceptions are collected (a test fails on any)."""


def open_page(pw, profile, chromium, errors):
    """A browser on `profile` (a temp dir) and a page reporting into `errors`."""
    browser = pw.chromium.launch_persistent_context(
        profile, executable_path=chromium, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    page = browser.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    return browser, page
