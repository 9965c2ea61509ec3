"""Sign in with an API token, sign out, and the console's front door."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from memberflow.admin.console import session
from memberflow.admin.console.session import SignInRequired
from memberflow.admin.console.web import render
from memberflow.admin.tokens import authenticate

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def front(request: Request, tenant: str | None = None) -> Response:
    """Signed in: the members of ``tenant`` (or the token's tenant); otherwise the sign-in page."""
    try:
        who = session.signed_in(request)
    except SignInRequired:
        return RedirectResponse("/console/sign-in", 303)
    target = tenant if tenant and who.sees(tenant) else who.tenant_id or "default"
    return RedirectResponse(f"/console/{target}/members", 303)


def sign_in_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    response = Response()
    csrf = session.presign(request, response)
    page = render(request, "sign_in.html", status, presign_csrf=csrf, error=error)
    for key, value in response.headers.items():
        if key == "set-cookie":
            page.headers.append(key, value)
    return page


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return sign_in_page(request)


@router.post("/sign-in")
def sign_in(request: Request, token: Annotated[str, Form(max_length=256)],
            csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    session.check_csrf(request, csrf)
    token = token.strip()
    if authenticate(request.app.state.services.engine, token) is None:
        return sign_in_page(request, 401, "That token is not valid (or it was revoked).")
    response = RedirectResponse("/console", 303)
    session.keep(request, response, token)
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    session.check_csrf(request, csrf)
    response = RedirectResponse("/console/sign-in", 303)
    session.forget(response)
    return response
