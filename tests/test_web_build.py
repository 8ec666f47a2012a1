"""The web page's committed build is the build of its committed sources, ships as package data
and loads nothing from elsewhere. (The build needs Node.js, which the suite does not: the build
records the SHA-256 of its sources in source.json, and this recomputes it.)"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import tomllib
from pathlib import Path

from optimizer.interfaces.webpage import WEB

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "web"


def digest() -> tuple[str, list[str]]:
    """vite.config.js's sourceDigest(): every file under web/ but node_modules/ and .gitignore,
    sorted by path; sha256 over path, NUL, contents, NUL."""
    files = sorted(p.relative_to(SOURCE).as_posix() for p in SOURCE.rglob("*")
                   if p.is_file() and "node_modules" not in p.relative_to(SOURCE).parts and p.name != ".gitignore")
    h = hashlib.sha256()
    for f in files:
        h.update(f.encode() + b"\0")
        h.update((SOURCE / f).read_bytes())
        h.update(b"\0")
    return h.hexdigest(), files


def test_the_committed_build_is_of_the_committed_sources():
    built = json.loads((WEB / "source.json").read_text())
    sha, files = digest()
    assert built["files"] == files, "web/ gained or lost a file since the build: cd web && npm ci && npm run build"
    assert built["sha256"] == sha, "web/ changed since the build: cd web && npm ci && npm run build"


def test_every_built_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["optimizer.interfaces"]
    base = WEB.parent
    built = [p.relative_to(base).as_posix() for p in WEB.rglob("*") if p.is_file()]
    assert "web/index.html" in built and any(b.endswith(".js") for b in built)
    for f in built:
        assert any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns), f


def test_nothing_built_names_another_host():
    """No URL in the page or its assets, but the SVG namespace (a name, never fetched)."""
    for p in WEB.rglob("*"):
        if p.suffix in (".html", ".js", ".css"):
            urls = set(re.findall(r"(?:https?:)?//[a-zA-Z0-9.-]+\.[a-z]{2,}[^\s\"')]*", p.read_text()))
            urls = {u for u in urls if not u.startswith(("http://www.w3.org/", "//www.w3.org/"))}
            assert not urls, (p.name, sorted(urls)[:5])


def test_docs_list_every_browser_test():
    """docs/web.md's table of browser tests names each test of tests/test_web.py, and only those."""
    tests = set(re.findall(r"^def (test_\w+)", (ROOT / "tests" / "test_web.py").read_text(), re.M))
    listed = set(re.findall(r"`(test_\w+)`", (ROOT / "docs" / "web.md").read_text()))
    assert tests == listed, (sorted(tests - listed), sorted(listed - tests))
