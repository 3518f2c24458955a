"""Which model a server serves, at which revision, whether it is a stand-in, and which server it is.

**The model** (:func:`served_identity`): the name asked for, else the server's only model, else the
one a request without a name is answered by. Records are keyed by that name — a model folder on this
machine by its folder name and content digest, exactly as the in-process path names it
(:mod:`cxr_lib.models.model_names`) — and by the revision the server reports (a ``revision`` field in
``/v1/models``, or a ``name@revision`` id), else the one passed. The served model is a stand-in when
its folder here carries the stand-in marker, when the server says so (``"stand_in": true`` in its
``/v1/models`` entry, as ``cxr serve`` does), or when its name or path says so (``stand-in``,
``stand_in``): a false alarm only adds a banner, a miss would present random output as a finding.

**The server** (:func:`server_info`): what it reports about itself, asked once when a backend opens:
``/v1/models``' ``owned_by`` (vLLM: ``vllm``, SGLang: ``sglang``, ``cxr serve``: ``cxr_lib``; other
owners, such as the model author ``transformers serve`` lists, name no server), vLLM's ``GET /version``
(``{"version": …}``), TGI's ``GET /info`` (``version``, ``model_dtype``, ``model_device_type``;
``Info`` in TGI's ``router/src/lib.rs``), and the ``made_with`` entry ``cxr serve`` lists. What a server
does not report is recorded as ``not reported``: vLLM, for one, does not say its dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cxr_lib.errors import EndpointError
from cxr_lib.models.endpoint_transport import Transport
from cxr_lib.models.model_names import resolve_model
from cxr_lib.models.provenance import is_stand_in

#: Words in a served model's name or path that mark it as a stand-in.
STAND_IN_HINTS = ("stand-in", "stand_in", "standin")
#: What records say for a property the server does not report.
NOT_REPORTED = "not reported"
#: ``owned_by`` values and the server each names.
_OWNERS = {"vllm": "vLLM", "sglang": "SGLang", "cxr_lib": "cxr serve", "tgi": "TGI"}


@dataclass(frozen=True)
class ServedModel:
    """What the records say about the served model: name to send, id and revision to key by, stand-in flag."""

    request_name: str | None  # the ``model`` field sent; None: the server's default
    model_id: str
    revision: str | None
    is_stand_in: bool
    entry: Mapping[str, Any] = field(default_factory=dict)  # the server's /v1/models entry, if listed


def local_folder(*names: str | None) -> Path | None:
    """The first of ``names`` that is a model folder on this machine (holds ``config.json``), or ``None``."""
    for name in names:
        if not name:
            continue
        path = Path(str(name)).expanduser()
        try:
            if path.is_dir() and (path / "config.json").is_file():
                return path
        except OSError:
            continue
    return None


def served_identity(name: str, entry: Mapping[str, Any] | None = None, revision: str | None = None,
                    request_name: str | None = None) -> ServedModel:
    """The model id, revision and stand-in flag for a served model (see the module docstring)."""

    entry = dict(entry or {})
    base, suffix = name, None
    if "@" in name and not name.startswith("@"):
        base, _, suffix = name.rpartition("@")  # transformers serve names models ``id@revision``
    reported = entry.get("revision") or (suffix if suffix and suffix != "main" else None)
    root = entry.get("root") if isinstance(entry.get("root"), str) else None
    folder = local_folder(base, root)
    stand_in = bool(entry.get("stand_in") is True or (folder is not None and is_stand_in(folder))
                    or any(hint in text.lower() for hint in STAND_IN_HINTS for text in (name, root or "")))
    if folder is not None:
        ref = resolve_model(folder)
        model_id, known = ref.name, reported or ref.revision
    else:
        model_id, known = base, reported
    if revision and known and revision != known:
        raise EndpointError(f"the server serves {model_id} at revision {known}, not {revision}: "
                            "drop the revision or restart the server at the one you want")
    return ServedModel(request_name, model_id, known or revision, stand_in, entry)


@dataclass(frozen=True)
class ServerInfo:
    """What a server reports about itself (``None``: not reported)."""

    name: str | None = None
    version: str | None = None
    dtype: str | None = None
    quantization: str | None = None
    attention: str | None = None
    device_kind: str | None = None

    def made_with(self) -> dict[str, str]:
        """How the server's outputs are made, as records and their keys carry it."""
        server = " ".join(part for part in (self.name or ("version" if self.version else None), self.version)
                          if part) or NOT_REPORTED
        return {"backend": "endpoint", "server": server, "dtype": self.dtype or NOT_REPORTED,
                "quantization": self.quantization or NOT_REPORTED, "attention": self.attention or NOT_REPORTED,
                "device_kind": self.device_kind or NOT_REPORTED}


def _get(transport: Transport, path: str) -> dict[str, Any]:
    """``GET`` under the server's root, once; an empty dict when the server has no such route."""
    try:
        return transport.request("GET", path, retries=0, root=True)
    except EndpointError:
        return {}


def _text(value: Any) -> str | None:
    return str(value).replace("torch.", "") if value not in (None, "") else None


def server_info(transport: Transport, entry: Mapping[str, Any] | None = None) -> ServerInfo:
    """Ask the server what it is (see the module docstring); never fails."""
    entry = dict(entry or {})
    owner = str(entry.get("owned_by") or "").lower()
    name = _OWNERS.get(owner)
    made = entry.get("made_with") if isinstance(entry.get("made_with"), dict) else {}
    info = _get(transport, "/info")
    if info.get("model_dtype") or str(info.get("router", "")).startswith("text-generation"):
        return ServerInfo("TGI", _text(info.get("version")), _text(info.get("model_dtype")),
                          _text(info.get("quantize")), _text(info.get("attention_impl")),
                          _text(info.get("model_device_type")))
    version = _get(transport, "/version").get("version")
    return ServerInfo(name, _text(version),
                      _text(made.get("dtype")), _text(made.get("quantization")), _text(made.get("attention")),
                      _text(made.get("device_kind")))
