"""Headless Chromium on the built book, offline: shared by the browser tests and ``make pdf``.

The browser is Debian's ``chromium`` (``apt-get install chromium``) driven by
Playwright for Python; Playwright's own browser download is not used. Pages
are served from a local folder on 127.0.0.1, and every request to any other
host is blocked and recorded, so a page that needs the internet is caught.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

#: How to get a browser on a machine without one.
HOW_TO_ENABLE = (
    "install Debian's chromium and the CJK fonts "
    "(apt-get install --no-install-recommends chromium fonts-noto-cjk), or run .ci/run"
)

#: Flags that keep Chromium from calling home (no answer here: it would stall).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

#: Resolves once MathJax (if the page loads it) has typeset the page, and the fonts are in.
WAIT_FOR_MATH = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await document.fonts.ready;
}"""

#: Up to five snippets of text outside code and typeset math that still look like TeX.
RAW_TEX = """() => {
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight')
       .forEach((e) => e.remove());
  const body = clone.textContent;
  const tex = /\\\\[A-Za-z]+|\\\\[()\\[\\]]|\\$\\$/g;
  const found = [];
  let m;
  while ((m = tex.exec(body)) && found.length < 5) {
    found.push(body.slice(Math.max(0, m.index - 30), m.index + 30).replace(/\\s+/g, ' '));
  }
  return found;
}"""

#: MathJax's own error markers (an unknown macro, a TeX syntax error).
MATH_ERRORS = """() => Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]')).slice(0, 5)
  .map((e) => e.getAttribute('data-mjx-error') || e.textContent)"""


def chromium_path() -> str:
    """The Chromium binary: $CHROMIUM, else `chromium` on PATH, else Debian's path."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def browser_problem() -> str | None:
    """Why the browser cannot run here, or None if it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (make venv installs it from requirements.txt)"
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return f"no chromium found (looked for {path})"
    return None


def launch(playwright):
    """Start headless Chromium with a fresh temporary profile."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A browser that closes a page while a file is still coming (the crawl does) is not an error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Server:
    """Serve a folder on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, directory: Path):
        self.root = Path(directory)
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.netloc = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"http://{self.netloc}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def block_other_hosts(page, server: Server, blocked: list) -> None:
    """Let ``page`` reach only ``server``; record (in ``blocked``) and abort every other request."""

    def route(route, request):
        if urlsplit(request.url).netloc == server.netloc:
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort()

    page.route("**/*", route)
