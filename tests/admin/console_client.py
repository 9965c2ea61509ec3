"""Helpers of the console's tests: a signed-in browser-like client per token, and the page's forms."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi import FastAPI
from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    return CSRF.search(html).group(1)


def signed_in(app: FastAPI, token: str) -> TestClient:
    """A client with its own cookies, signed in with ``token`` through the sign-in form."""
    client = TestClient(app, follow_redirects=False)
    form = client.get("/console/sign-in")
    answer = client.post("/console/sign-in", data={"token": token, "csrf": csrf_of(form.text)})
    assert answer.status_code == 303, answer.text
    return client


class Fields(HTMLParser):
    """The form fields of a page (inputs other than hidden ones, selects, text areas) and its labels."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.buttons: list[str] = []
        self.links: list[str] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.fields.append(a)
        elif tag == "label" and a.get("for"):
            self.labelled.add(a["for"])
        elif tag == "button":
            self._in_button = True
            self.buttons.append("")
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data.strip()


def fields(html: str) -> Fields:
    parsed = Fields()
    parsed.feed(html)
    return parsed
