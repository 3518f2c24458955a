"""Which backend makes the reports: the model in this process, or an OpenAI-compatible server.

:func:`open_vlm` is the one switch: without ``endpoint`` it is :func:`cxr_lib.models.vlm.load_vlm`
(MedGemma loaded here); with ``endpoint`` (a URL such as ``http://127.0.0.1:8000/v1``) it is
:func:`cxr_lib.models.endpoint.open_endpoint`, and ``model`` is the name asked of the server. Both
return an object with the interface the runner, the notebooks and the app use (``model_id``,
``revision``, ``is_stand_in``, ``generate``, ``score_answers``, ``stream_updates``), so nothing
downstream asks which one it got.
"""

from __future__ import annotations

import os
from typing import Any

from cxr_lib.errors import ParameterError
from cxr_lib.models.endpoint import DEFAULT_CONCURRENCY, open_endpoint
from cxr_lib.models.vlm import DEFAULT_MODEL, load_vlm


def open_vlm(
    model: str | os.PathLike | None,
    *,
    endpoint: str | None = None,
    revision: str | None = None,
    device: str | None = None,
    load_in_4bit: bool = False,
    lazy: bool = False,
    concurrency: int | None = None,
) -> Any:
    """The report backend: ``load_vlm(model, …)``, or the server at ``endpoint`` serving ``model``.

    ``device``, ``load_in_4bit`` and ``lazy`` belong to the in-process model (with an endpoint the
    server chose its device and precision: ``device`` is not used, 4-bit is refused);
    ``concurrency`` to the endpoint (requests in flight at once; not used in this process).
    """
    if endpoint is None or not str(endpoint).strip():
        return load_vlm(DEFAULT_MODEL if model is None else model, revision=revision, device=device,
                        load_in_4bit=load_in_4bit, lazy=lazy)

    if load_in_4bit:
        raise ParameterError("4-bit loading is the server's choice with an endpoint: drop load_in_4bit (--4bit)")
    return open_endpoint(str(endpoint), model, revision=revision, concurrency=concurrency or DEFAULT_CONCURRENCY)
