"""/api/docs/ (Swagger UI) and /api/redoc/ in Debian Chromium with every other host blocked:
the viewers come from local assets (drf-spectacular-sidecar) and list the operations."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian chromium not installed (make browser-deps)")
@pytest.mark.django_db(transaction=True)
def test_api_docs_work_offline_and_list_the_operations(live_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    base = live_server.url.replace("://localhost:", "://127.0.0.1:")
    blocked: list[str] = []
    console_errors: list[str] = []

    def only_localhost(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.route("**/*", only_localhost)
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/api/docs/")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = {
            el.inner_text().replace("\u200b", "").strip() for el in page.query_selector_all(".opblock-summary-path")
        }
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)

        page.goto(f"{base}/api/redoc/")
        page.wait_for_selector("text=/api/v1/submissions/", timeout=30_000)
        redoc_text = page.content()
        browser.close()

    for path in ("/api/v1/submissions/", "/api/v1/auth/token/", "/api/v1/events/", "/api/v1/review-queue/"):
        assert path in paths, sorted(paths)
    assert len(paths) >= 25
    assert "/api/v1/submissions/{id}/" in paths
    assert "/api/v1/auth/token/" in redoc_text
    assert blocked == [], blocked  # nothing was even asked of another host
    # Redoc's bundle links a "powered by" logo on its vendor's site: the CSP stops it before any request.
    csp = [e for e in console_errors if "Content Security Policy" in e and "cdn.redoc.ly/redoc/logo" not in e]
    assert not csp, "\n".join(csp)
    assert (tmp_path / "docs.png").stat().st_size > 10_000
