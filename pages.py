"""What a browser opens besides the API: the chat page (/ui), the API docs (/docs, /redoc) from
vendored files, and LangServe's playgrounds with the page's answer view added.

Nothing here loads from a CDN: the service works without internet, under a strict
Content-Security-Policy (see security/headers.py).
"""

import base64
import hashlib
import re
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AppServices, CurrentUser
from llms import describe_model, model_name
from security.headers import DOCS_CSP
from security.signin import SignedInOnly, install_signin

WEB_DIR = Path(__file__).resolve().parent / "web"
SWAGGER_UI_DIR = WEB_DIR / "vendor" / "swagger-ui-dist-5.35.0"
REDOC_DIR = WEB_DIR / "vendor" / "redoc-2.5.4"
TITLE = "Code-interpreter agent"

router = APIRouter()


def install_pages(app: FastAPI) -> None:
    """The sign-in form, the page and the docs; call after the API routes, so that they win."""
    install_signin(app, WEB_DIR / "signin")
    app.mount("/docs/assets", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
    app.mount("/redoc/assets", StaticFiles(directory=REDOC_DIR), name="redoc")
    app.include_router(router)
    page = StaticFiles(directory=WEB_DIR, html=True, check_dir=False)
    app.mount("/ui", SignedInOnly(page, app.state.guards.authenticate), name="ui")
    app.add_middleware(PlaygroundAddOn)


@router.get("/info", tags=["service"])
async def info(request: Request, _user: CurrentUser, svc: AppServices) -> dict:
    """Which model answers, the limits a client should know, and whether callers sign in."""
    settings = svc.settings
    return {
        "model": {"kind": describe_model(settings), "name": model_name(settings)},
        "max_message_chars": settings.max_message_chars,
        "max_upload_bytes": settings.max_upload_bytes,
        "sign_in": bool(request.app.state.guards.authenticate.methods),
    }


@router.get("/docs", include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{TITLE}: API",
        swagger_js_url=f"{root}/docs/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/assets/swagger-ui.css",
        swagger_favicon_url=f"{root}/docs/assets/favicon-32x32.png",
    )
    return _allowing_its_inline_script(page)


@router.get("/redoc", include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{TITLE}: API",
        redoc_js_url=f"{root}/redoc/assets/redoc.standalone.js",
        redoc_favicon_url=f"{root}/docs/assets/favicon-32x32.png",
        with_google_fonts=False,
    )


def _allowing_its_inline_script(page: HTMLResponse) -> HTMLResponse:
    """Swagger UI starts from one inline script: the policy allows that script by its hash,
    and no other inline code."""
    scripts = re.findall(rb"<script>(.*?)</script>", page.body, flags=re.DOTALL)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts
    )
    policy = DOCS_CSP.replace("script-src 'self'", f"script-src 'self' {hashes}", 1)
    page.headers["content-security-policy"] = policy
    return page


# LangServe's playground page, at <path>/playground/ or <path>/c/<config>/playground/.
_PLAYGROUND_PAGE = re.compile(r"/playground/(?:index\.html)?$")
ADD_ON = '<script type="module" src="{root}/ui/playground.js"></script>'


class PlaygroundAddOn:
    """Adds the page's answer view to LangServe's playground pages: the merged answer with its
    steps, Markdown and images, beside LangServe's own view of the raw stream. The add-on
    reads the same /stream_log events the playground reads; no API changes shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _PLAYGROUND_PAGE.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        start: Message = {}
        body: list[bytes] = []

        async def with_add_on(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            headers = MutableHeaders(scope=start)
            if headers.get("content-type", "").startswith("text/html"):
                tag = ADD_ON.format(root=scope.get("root_path", "")).encode()
                page = page.replace(b"</head>", tag + b"</head>", 1)
                headers["content-length"] = str(len(page))
            await send(start)
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, with_add_on)
