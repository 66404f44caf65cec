"""A scripted browser: follows redirects, the tool's cookie-check page and auto-submitting forms.

It does over HTTP what a person's browser does during an LTI launch, and records
every response so a test can look at any step.
"""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import requests


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs) -> None:
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action", ""),
                    "method": (attrs.get("method") or "get").upper(),
                    "fields": {},
                    "id": attrs.get("id", ""),
                }
            )
        elif tag == "input" and self.forms and attrs.get("type") == "hidden":
            self.forms[-1]["fields"][attrs.get("name")] = attrs.get("value", "")


def forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    def __init__(self) -> None:
        self.session = requests.Session()
        self.history: list[requests.Response] = []

    def _record(self, resp: requests.Response) -> requests.Response:
        self.history.extend(resp.history)
        self.history.append(resp)
        return resp

    def get(self, url: str) -> requests.Response:
        return self.run(self._record(self.session.get(url, timeout=30)))

    def post(self, url: str, data: dict, files=None) -> requests.Response:
        return self.run(self._record(self.session.post(url, data=data, files=files, timeout=30)))

    def run(self, resp: requests.Response, max_steps: int = 10) -> requests.Response:
        """Do what the page's script would do, until a page that waits for a person."""
        for _ in range(max_steps):
            text = resp.text if "html" in resp.headers.get("Content-Type", "") else ""
            match = re.search(r"var urlParams = (\{.*?\});", text)
            if "lti1p3-loading-msg" in text and match:  # pylti1p3's cookie check: cookies work here, go on
                query = urlsplit(resp.url).query
                params = {k: unescape(v) for k, v in json.loads(match.group(1)).items() if f"{k}=" not in query}
                resp = self._record(
                    self.session.get(f"{resp.url}{'&' if query else '?'}{urlencode(params)}", timeout=30)
                )
                continue
            auto = [f for f in forms(text) if f["method"] == "POST" and ".submit()" in text]
            if auto:
                form = auto[0]
                resp = self._record(
                    self.session.post(urljoin(resp.url, form["action"]), data=form["fields"], timeout=30)
                )
                continue
            return resp
        raise AssertionError("too many automatic steps")
