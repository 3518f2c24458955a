"""Helpers to serve the Gradio app during tests (shared by test_ui and test_ui_browser)."""

from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Iterator


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app) -> Iterator[str]:
    """Serve ``app`` in this process on a free port; yield its URL; close it afterwards."""
    from cxr_lib.app.ui import launch

    url = launch(app, port=free_port(), block=False)
    try:
        yield url
    finally:
        app.close()
