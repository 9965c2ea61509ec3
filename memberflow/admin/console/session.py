"""Signing in to the console: the API token in a cookie, a CSRF token in every form.

The token is kept in an HttpOnly, SameSite=Strict cookie scoped to
``/console`` (Secure over HTTPS).  Every POST form carries a CSRF token
derived from the signed-in token with HMAC, so only a page the console served
to this browser can post; before sign-in, the sign-in form is protected the
same way by a random value in a cookie of its own (double submit).  A POST
whose CSRF token does not match is 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response

from memberflow.admin.deps import Services
from memberflow.admin.tokens import Principal, authenticate

TOKEN_COOKIE = "mf_console"
PRESIGN_COOKIE = "mf_console_presign"
PATH = "/console"


class SignInRequired(Exception):
    """No valid token cookie: the console answers with the sign-in page."""


class ConsoleError(Exception):
    """An answer other than the page asked for, shown as a page: 403, 404, 422."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"memberflow console csrf", hashlib.sha256).hexdigest()


def token_of(request: Request) -> str | None:
    return request.cookies.get(TOKEN_COOKIE)


def signed_in(request: Request) -> Principal:
    """The principal of the console's cookie; ``SignInRequired`` without a valid one."""
    token = token_of(request)
    svc: Services = request.app.state.services
    who = authenticate(svc.engine, token) if token else None
    if who is None:
        raise SignInRequired()
    return who


def check_csrf(request: Request, sent: str | None) -> None:
    """403 unless ``sent`` is the CSRF token of this browser's sign-in (or of its sign-in form)."""
    token = token_of(request)
    presign = request.cookies.get(PRESIGN_COOKIE)
    expected = [csrf_for(token)] if token else []
    if presign:
        expected.append(csrf_for(presign))
    if not sent or not any(hmac.compare_digest(sent, e) for e in expected):
        raise ConsoleError(403, "the form's CSRF token does not match: reload the page and try again")


def _cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def presign(request: Request, response: Response) -> str:
    """The sign-in form's CSRF token (its cookie is set on ``response`` when it is new)."""
    value = request.cookies.get(PRESIGN_COOKIE)
    if not value:
        value = secrets.token_urlsafe(24)
        _cookie(request, response, PRESIGN_COOKIE, value, max_age=3600)
    return csrf_for(value)


def keep(request: Request, response: Response, token: str) -> None:
    _cookie(request, response, TOKEN_COOKIE, token)
    response.delete_cookie(PRESIGN_COOKIE, path=PATH)


def forget(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, path=PATH)
