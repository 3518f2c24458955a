"""Which backend makes the reports: the model in this process, or an OpenAI-compatible server.

:data:`BACKENDS` is the registry, name → :class:`Backend`, and :func:`open_vlm` the one switch:
``in-process`` is :func:`cxr_lib.models.vlm.load_vlm` (MedGemma loaded here); ``endpoint`` (chosen
when an ``endpoint`` URL such as ``http://127.0.0.1:8000/v1`` is given) is
:func:`cxr_lib.models.endpoint.open_endpoint`, and ``model`` is the name asked of the server. Every
backend returns an object with the interface the runner, the notebooks and the app use (``model_id``,
``revision``, ``is_stand_in``, ``generate``, ``score_answers``, ``stream_updates``), so nothing
downstream asks which one it got.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from cxr_lib.errors import ParameterError
from cxr_lib.models.endpoint import DEFAULT_CONCURRENCY, open_endpoint
from cxr_lib.models.vlm import DEFAULT_MODEL, load_vlm


@dataclass(frozen=True)
class Backend:
    """A way to make the reports: its name, what it is (for help texts), and how it is opened."""

    name: str
    summary: str
    open: Callable[..., Any]  # (model, *, endpoint, revision, device, load_in_4bit, lazy, concurrency) → the VLM interface


def _open_in_process(model: str | os.PathLike | None, *, endpoint: str | None, revision: str | None,
                     device: str | None, load_in_4bit: bool, lazy: bool, concurrency: int | None) -> Any:
    if endpoint:
        raise ParameterError(f"the in-process backend loads the model here and asks no server: drop the endpoint {endpoint!r}")
    return load_vlm(DEFAULT_MODEL if model is None else model, revision=revision, device=device,
                    load_in_4bit=load_in_4bit, lazy=lazy)


def _open_endpoint(model: str | os.PathLike | None, *, endpoint: str | None, revision: str | None,
                   device: str | None, load_in_4bit: bool, lazy: bool, concurrency: int | None) -> Any:
    if not endpoint:
        raise ParameterError("the endpoint backend needs the server's URL: pass --endpoint URL (vlm_endpoint in a notebook)")
    if load_in_4bit:
        raise ParameterError("4-bit loading is the server's choice with an endpoint: drop load_in_4bit (--4bit)")
    return open_endpoint(str(endpoint), model, revision=revision, concurrency=concurrency or DEFAULT_CONCURRENCY)


#: The registry: every report backend by name. Adding one is adding its entry here.
BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend("in-process", "the model loaded in this process by transformers", _open_in_process),
        Backend("endpoint", "an OpenAI-compatible server at the --endpoint URL, such as vLLM, TGI or cxr serve", _open_endpoint),
    )
}


def backend_name(endpoint: str | None = None, backend: str | None = None) -> str:
    """The backend asked for: ``backend`` by name, else ``endpoint`` when a URL is given, else ``in-process``."""
    if backend is None:
        return "endpoint" if endpoint is not None and str(endpoint).strip() else "in-process"
    if backend not in BACKENDS:
        raise ParameterError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return backend


def open_vlm(
    model: str | os.PathLike | None,
    *,
    endpoint: str | None = None,
    backend: str | None = None,
    revision: str | None = None,
    device: str | None = None,
    load_in_4bit: bool = False,
    lazy: bool = False,
    concurrency: int | None = None,
) -> Any:
    """The report backend named ``backend`` (see :func:`backend_name`) opened for ``model``.

    ``device``, ``load_in_4bit`` and ``lazy`` belong to the in-process model (with an endpoint the
    server chose its device and precision: ``device`` is not used, 4-bit is refused);
    ``concurrency`` to the endpoint (requests in flight at once; not used in this process).
    """
    endpoint = str(endpoint).strip() if endpoint is not None and str(endpoint).strip() else None
    return BACKENDS[backend_name(endpoint, backend)].open(model, endpoint=endpoint, revision=revision, device=device,
                                                          load_in_4bit=load_in_4bit, lazy=lazy, concurrency=concurrency)
