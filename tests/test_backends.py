"""The report backends' registry: which backend a call gets, and the one-line errors of a wrong choice."""

from __future__ import annotations

import pytest

from cxr_lib.errors import ParameterError
from cxr_lib.models.backends import BACKENDS, backend_name, open_vlm


def test_the_backend_follows_the_endpoint_unless_named() -> None:
    assert backend_name() == backend_name(endpoint="  ") == "in-process"
    assert backend_name(endpoint="http://127.0.0.1:8000/v1") == "endpoint"
    assert all(backend_name("http://127.0.0.1:8000/v1", name) == name for name in BACKENDS)


def test_every_backend_says_what_it_is() -> None:
    assert all(backend.name == name and backend.summary.strip() and callable(backend.open) for name, backend in BACKENDS.items())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"backend": "nowhere"}, "unknown backend 'nowhere': choose one of"),
        ({"backend": "endpoint"}, "the endpoint backend needs the server's URL"),
        ({"backend": "in-process", "endpoint": "http://127.0.0.1:8000/v1"}, "the in-process backend loads the model here"),
    ],
)
def test_a_wrong_choice_is_one_line_before_anything_loads(options: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message) as caught:
        open_vlm("no-such/model", **options)
    assert "\n" not in str(caught.value)
