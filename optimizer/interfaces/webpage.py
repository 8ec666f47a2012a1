"""The planner's web page at ``/`` of ``optimizer serve``.

The page is built from ``web/`` at the repository's root (``npm run build``: Vite bundles its
scripts with CodeMirror, the ``yaml`` parser and Chart.js) into ``optimizer/interfaces/web/``,
which is committed and shipped as package data: the server needs no Node.js and the browser no
network. The page talks to the same JSON API as every other client, under the same limits.

Every response of the page carries a Content-Security-Policy that lets it load and call only its
own origin: no script from elsewhere runs, and no data leaves for another host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

WEB = Path(__file__).resolve().parent / "web"

# CodeMirror and Chart.js set element styles from script, hence style-src 'unsafe-inline';
# scripts, connections, fonts and images: this origin only (images also data:/blob: for canvases)
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
          "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY"}


def mount(app: FastAPI) -> None:
    """``GET /`` (the page) and ``/assets/`` (its scripts and styles), with the policy above."""

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index():
        page = WEB / "index.html"
        if not page.is_file():
            return JSONResponse({"detail": "the web page is not built in this installation (npm run build in web/)"},
                                status_code=404)
        return FileResponse(page, media_type="text/html", headers={**HEADERS, "Cache-Control": "no-cache"})

    app.mount("/assets", _Assets(directory=WEB / "assets", check_dir=False), name="assets")


class _Assets(StaticFiles):
    """The page's scripts and styles, with the page's headers. (Not an HTTP middleware: Starlette's
    BaseHTTPMiddleware hides a client's disconnect from the solve endpoints, which stop a solve
    whose client went away.)"""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response
