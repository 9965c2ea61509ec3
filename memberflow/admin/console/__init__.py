"""The operators' console: server-rendered pages over the read model, served by the admin service
under ``/console`` with its own assets (no CDN).  ``install`` adds it to the admin app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from memberflow.admin.console import (
    activity,
    adjust,
    approvals,
    campaigns,
    dashboard,
    experiments,
    imports,
    member,
    members,
    rules,
    signin,
    simulations,
)
from memberflow.admin.console.session import ConsoleError, SignInRequired, signed_in
from memberflow.admin.console.web import HERE, render

ROUTERS = (signin.router, members.router, member.router, adjust.router, approvals.router, dashboard.router,
           activity.router, imports.router, rules.router, simulations.router, experiments.router, campaigns.router)


#: the console loads nothing from elsewhere and may not be framed (a click on it from another site)
POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
          "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def content_policy(request: Request, call_next):
        response = await call_next(request)
        if request.url.path.startswith("/console"):
            response.headers.setdefault("Content-Security-Policy", POLICY)  # a report page states its own
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse("/console/sign-in", 303)

    @app.exception_handler(ConsoleError)
    async def console_error(request: Request, exc: ConsoleError) -> HTMLResponse:
        try:
            who = signed_in(request)
        except SignInRequired:
            who = None
        tenant = request.path_params.get("tenant_id")
        return render(request, "error.html", exc.status, who=who,
                      tenant_id=tenant if who is not None and tenant and who.sees(tenant) else None,
                      message=exc.message)
