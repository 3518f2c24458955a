"""Hugging Face hub access without waiting: is a model cached, and does the hub answer at all.

The hub client retries for tens of seconds before it gives up on a machine without network; these
checks let the loaders say so in under a few seconds instead. Like the hub client, they go through
the proxy the environment names (``$HTTPS_PROXY``, ``$NO_PROXY``).
"""

from __future__ import annotations

import os

from cxr_lib.errors import ModelLoadError


def https_proxy_for(host: str) -> tuple[str, int, str | None] | None:
    """The HTTPS proxy (host, port, ``user:password`` or ``None``) the environment sets for ``host``
    (``$HTTPS_PROXY`` / ``$https_proxy``), or ``None`` when there is none or ``$NO_PROXY`` exempts ``host``."""
    from urllib.parse import unquote, urlsplit
    from urllib.request import getproxies, proxy_bypass

    url = getproxies().get("https")
    if not url or proxy_bypass(host):
        return None
    parts = urlsplit(url if "://" in url else "http://" + url)
    if not parts.hostname:
        return None
    credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}" if parts.username else None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80), credentials


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub (``$HF_ENDPOINT`` or huggingface.co) can be reached within ``timeout``: a TCP
    connection to it, or, behind the proxy the environment names (``$HTTPS_PROXY``, unless ``$NO_PROXY``
    exempts the host), a ``CONNECT`` through that proxy that it answers with 200 — as the hub client
    itself goes through the proxy."""
    import base64
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT")
    parsed = urlparse(endpoint) if endpoint else None
    host = (parsed.hostname if parsed else None) or "huggingface.co"
    port = (parsed.port if parsed else None) or 443
    proxy = https_proxy_for(host)
    try:
        if proxy is None:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        proxy_host, proxy_port, credentials = proxy
        with socket.create_connection((proxy_host, proxy_port), timeout=timeout) as connection:
            request = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            if credentials:
                request += "Proxy-Authorization: Basic " + base64.b64encode(credentials.encode()).decode() + "\r\n"
            connection.sendall((request + "\r\n").encode("ascii"))
            status = connection.recv(64).split(b"\r\n", 1)[0].split()
            return len(status) >= 2 and status[1].startswith(b"2")
    except OSError:
        return False


def is_cached(model: str, filename: str = "config.json", revision: str | None = None) -> bool:
    """Whether ``filename`` of a hub model is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model, filename, revision=revision)
    return isinstance(found, str)


def unreachable_message(model: str) -> str:
    """The one line for a model that is neither cached nor reachable."""
    return (f"{model} is not in the Hugging Face cache and the Hub cannot be reached: connect to the network once "
            "to download it, pass a local model folder, or run `make demo` for the offline stand-ins")


def require_cached_or_reachable(model: str, revision: str | None = None) -> None:
    """Raise :class:`ModelLoadError` at once when a hub model can come from neither the cache nor the hub."""
    if not is_cached(model, revision=revision) and not hub_reachable():
        raise ModelLoadError(unreachable_message(model))


def check_model_config(model: str) -> None:
    """Check that a hub model's config can be read — from the cache, else from the hub — without
    downloading weights; a gated, unknown or unreachable model raises :class:`ModelLoadError`."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError
    from huggingface_hub.utils import logging as hub_logging

    if is_cached(model):
        return
    if not hub_reachable():
        raise ModelLoadError(unreachable_message(model))
    hub_logging.set_verbosity_error()
    try:
        hf_hub_download(model, "config.json")
    except GatedRepoError as exc:
        raise ModelLoadError(
            f"{model} is gated: accept its terms on its Hugging Face model page, then run "
            "`huggingface-cli login` or set HF_TOKEN in the environment (or run `make demo` for stand-ins)"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelLoadError(f"{model} was not found on the Hugging Face hub: check the model id") from exc
    except (LocalEntryNotFoundError, OSError) as exc:
        raise ModelLoadError(unreachable_message(model)) from exc
