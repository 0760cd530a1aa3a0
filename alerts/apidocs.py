"""``/docs`` without a CDN: Swagger UI served by tidegate itself.

FastAPI's default ``/docs`` page loads Swagger UI's script and stylesheet from a CDN, so on a
closed HQ network (and on these machines) it is a blank page. The same Swagger UI 5 files
ship inside the ``fastapi-offline`` package from PyPI (Apache-2.0 for Swagger UI); they are
served from ``/docs-assets`` and the page points there. Build the app with ``docs_url=None``
and ``redoc_url=None``, then call :func:`offline_docs`.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs-assets"


def offline_docs(app: FastAPI, docs_url: str = "/docs") -> None:
    """Serve Swagger UI for ``app``'s OpenAPI document at ``docs_url`` from local files.

    FastAPI's own ``/docs`` and ``/redoc`` pages (CDN) are taken off the app first.
    """
    cdn_pages = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url} - {None}
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", None) not in cdn_pages
    ]
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get(redirect_url, include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
