"""Signing in from a browser: a form that checks a credential and opens a signed session.

A browser cannot add `Authorization` to a page it navigates to, so the chat page and the
LangServe playground would be unreachable with authentication on. The form's API key or
Entra ID token is checked once; the HttpOnly cookie then holds a signed, expiring statement
of who signed in (security/sessions.py), never the credential. `SameSite=Strict` keeps other
sites from sending it.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from security.auth import Forbidden, Unauthorized
from security.sessions import SESSION_COOKIE

SIGNIN_PATH = "/signin/"
DEFAULT_NEXT = "/ui/"


def install_signin(app: FastAPI, page_dir: Path) -> None:
    """POST /signin/ and /signout, the form's own files (public) at /signin/, and the answer
    to an unauthenticated request: the form for a page, a 401 for an API call."""
    app.include_router(_router)
    app.add_exception_handler(Unauthorized, unauthorized_response)  # type: ignore[arg-type]
    app.mount(SIGNIN_PATH.rstrip("/"), StaticFiles(directory=page_dir, html=True), "signin")


_router = APIRouter(tags=["sign-in"])


@_router.post(SIGNIN_PATH, response_class=RedirectResponse, status_code=303)
async def sign_in(
    request: Request, credential: Annotated[str, Form()], next: Annotated[str, Form()] = ""
) -> Response:
    """Check the credential; open a session and go on to `next`, or back to the form."""
    root = _root(request)
    authenticate = request.app.state.guards.authenticate
    try:
        who = await authenticate.identify(credential.strip())
    except (Unauthorized, Forbidden):
        return RedirectResponse(f"{root}{SIGNIN_PATH}?failed=1&next={quote(next)}", 303)
    session, lifetime = authenticate.sessions.issue(who)
    response = RedirectResponse(_local(next, default=f"{root}{DEFAULT_NEXT}"), 303)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=lifetime,
        path=f"{root}/",
        httponly=True,
        samesite="strict",
        secure=_is_https(request),
    )
    return response


@_router.post("/signout", response_class=RedirectResponse, status_code=303)
async def sign_out(request: Request) -> Response:
    root = _root(request)
    response = RedirectResponse(f"{root}{SIGNIN_PATH}", 303)
    response.delete_cookie(SESSION_COOKIE, path=f"{root}/")
    return response


def unauthorized_response(request: Request, error: Unauthorized) -> Response:
    """A page navigation goes to the sign-in form; an API call gets the 401 itself."""
    navigating = request.method == "GET" and "text/html" in request.headers.get("accept", "")
    if navigating:
        root = _root(request)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{root}{SIGNIN_PATH}?next={quote(target)}", 303)
    return JSONResponse({"detail": error.detail}, 401, headers=error.headers)


def _root(request: Request) -> str:
    """The app's path prefix behind a proxy (a mount's own prefix excluded)."""
    return request.scope.get("app_root_path", request.scope.get("root_path", ""))


def _local(target: str, default: str) -> str:
    """`target` if it is a path on this site; `default` otherwise (no open redirect)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def _is_https(request: Request) -> bool:
    # Behind Azure's ingress TLS ends at the proxy, which says so in X-Forwarded-Proto.
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


class SignedInOnly:
    """An ASGI app (static files, say) served only to a caller who is signed in."""

    def __init__(self, app: ASGIApp, authenticate: Callable[[Request], Awaitable[str]]) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            try:
                await self.authenticate(request)
            except Unauthorized as error:
                await unauthorized_response(request, error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
