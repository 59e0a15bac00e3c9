"""/docs (Swagger UI) and /redoc (ReDoc) render from the service's own files, with every
other address blocked, as on a machine without internet."""

from playwright.sync_api import Browser, expect

from tests.browser.conftest import DESKTOP, Shots
from tests.service.conftest import Service

# ReDoc's sidebar footer shows Redocly's logo from its CDN (hidden when it fails to load); the
# policy blocks it, which is the one outside request the docs make.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def open_offline(browser: Browser, service: Service, path: str, test: str):
    context = browser.new_context(viewport=DESKTOP, base_url=service.url)
    outside: list[str] = []
    context.route(
        lambda url: not url.startswith(service.url),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and REDOC_LOGO not in m.text else None
        ),
    )
    page.goto(path)
    return context, page, Shots(page, test), outside, problems


def test_swagger_ui_renders_without_internet(browser: Browser, service: Service) -> None:
    context, page, shot, outside, problems = open_offline(browser, service, "/docs", "docs")
    expect(page.get_by_role("heading", name="Code-interpreter agent")).to_be_visible()
    operation = page.locator(".opblock-summary-path").filter(has_text="/chat/invoke").first
    expect(operation).to_be_visible()
    operation.click()
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
    shot("swagger-ui")
    context.close()
    assert outside == [] and problems == []


def test_redoc_renders_without_internet(browser: Browser, service: Service) -> None:
    context, page, shot, outside, problems = open_offline(browser, service, "/redoc", "redoc")
    expect(page.get_by_role("heading", name="Code-interpreter agent").first).to_be_visible()
    expect(page.get_by_text("/chat/invoke").first).to_be_attached()
    shot("redoc")
    context.close()
    assert outside == [] and problems == []
