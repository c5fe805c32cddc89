"""Pages for people: a page to paste text into and see its entities highlighted (``/ui``), and the
OpenAPI page (``/docs``) with Swagger UI served by the service itself, not from a CDN, so both work
offline and behind a firewall."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

STATIC = Path(__file__).resolve().parent.parent / "static"
SWAGGER = "/static/swagger"  # where Swagger UI's files (of the fastapi-swagger package) are mounted

router = APIRouter(include_in_schema=False)


@cache
def _page() -> str:
    return (STATIC / "ui.html").read_text(encoding="utf-8")


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/ui")


@router.get("/ui")
async def ui() -> HTMLResponse:
    """Paste text, see its entities highlighted with their type and score; asks for a key when the
    service needs one."""
    return HTMLResponse(_page(), headers={"Cache-Control": "no-cache"})


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI over this service's OpenAPI document, every asset served from here."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url="data:,",  # no icon rather than one fetched from elsewhere
    )


def swagger_files() -> Path:
    """The folder of Swagger UI's own files: the ``fastapi-swagger`` package ships them (MIT; Swagger
    UI itself is Apache-2.0). Only its files are used, not its code."""
    import fastapi_swagger.resources

    return Path(fastapi_swagger.resources.__file__).resolve().parent
