"""The agreement check: a server against the same model loaded here, image by image — and proof it can fail.

Two servers on 127.0.0.1, both ``cxr serve``'s app (``cxr_lib.app.serve.build_app``) on the stand-in:
one as it is, and one whose model never receives ``token_type_ids``. Gemma 3 lets an image's tokens
attend to each other both ways only through those ids (``get_block_sequence_ids_for_mask`` in
transformers' ``models/gemma3/modeling_gemma3.py``; without them the mask is plain causal), and a
serving engine that drops that mask computes something else without a word — vLLM's support for it
has varied by version and attention backend (vLLM pull requests 14660, 27938, 46754). The check must
catch the second server.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest

from cxr_lib.analysis.agreement import check_agreement, first_difference, spread_indices
from cxr_lib.app.serve import build_app, free_port
from cxr_lib.cli import main
from cxr_lib.errors import DisagreementError, ParameterError
from cxr_lib.models.vlm import VLM, load_vlm

CASES = 6
TOKENS = 24


class CausalImageVLM(VLM):
    """The stand-in with Gemma 3's bidirectional image mask dropped, as a server without it computes."""

    def encode(self, images, prompts):
        batch = super().encode(images, prompts)
        batch.pop("token_type_ids", None)
        return batch


def _serve(vlm):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(vlm), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    return server, thread, f"http://127.0.0.1:{port}/v1"


@pytest.fixture(scope="module")
def servers(stand_in_dir, data_dir):
    """The faithful server and the one that drops the image mask, both on the stand-in."""
    faithful = load_vlm(stand_in_dir / "medgemma")
    fields = {f.name: getattr(faithful, f.name) for f in dataclasses.fields(faithful) if f.init and f.name != "_lock"}
    maskless = CausalImageVLM(**fields)
    running = [_serve(faithful), _serve(maskless)]
    yield running[0][2], running[1][2]
    for server, thread, _ in running:
        server.should_exit = True
        thread.join(timeout=30)


def test_first_difference_and_spread():
    assert first_difference([1, 2, 3], [1, 2, 3]) is None
    assert first_difference([1, 2, 3], [1, 5, 3]) == 1 and first_difference([1, 2], [1, 2, 3]) == 2
    assert spread_indices(624, 5) == [0, 156, 312, 467, 623]
    with pytest.raises(ParameterError):
        spread_indices(624, 0)


def test_a_faithful_server_agrees(servers, tmp_path):
    faithful, _ = servers
    result = check_agreement(faithful, cases=CASES, max_new_tokens=TOKENS, out=tmp_path / "agreement.json")
    assert result.agrees and len(result.cases) == CASES
    assert all(c.first_difference is None and c.label_local == c.label_served for c in result.cases)
    assert max(abs(c.p_local - c.p_served) for c in result.cases) < 1e-4
    saved = json.loads((tmp_path / "agreement.json").read_text())
    assert saved["agrees"] is True and len(saved["cases"]) == CASES
    assert result.server.startswith("cxr serve") and "outputs identical: 6 of 6" in result.summary_lines()


def test_a_server_that_drops_the_image_mask_is_caught(servers):
    _, maskless = servers
    result = check_agreement(maskless, cases=CASES, max_new_tokens=TOKENS)
    assert not result.agrees
    early = [c for c in result.disagreeing if c.first_difference is not None and c.first_difference < result.early_tokens]
    assert len(early) >= CASES // 2  # most reports part within their first tokens
    assert any(c.p_local != pytest.approx(c.p_served, abs=1e-3) for c in result.cases)  # the scores move too
    assert "disagrees" in result.verdict() and "bidirectional image mask" in result.verdict()


def test_cli_agreement_exits_non_zero_with_one_line_on_disagreement(servers, capsys):
    faithful, maskless = servers
    assert main(["agreement", "--endpoint", faithful, "--cases", "3", "--max-new-tokens", "12"]) == 0
    assert "AGREES" in capsys.readouterr().out
    assert main(["agreement", "--endpoint", maskless, "--cases", str(CASES), "--max-new-tokens", str(TOKENS)]) == 2
    captured = capsys.readouterr()
    err = [line for line in captured.err.strip().splitlines() if not line.startswith("Loading weights")]
    assert len(err) == 1 and err[0].startswith("cxr: error: the server disagrees") and "Traceback" not in captured.err
    assert "earliest difference: image" in captured.out and "first_difference" in captured.out


def test_the_profile_step_stops_the_book_before_any_notebook(servers):
    from cxr_lib.tooling import book

    faithful, maskless = servers
    substitutions = {"results": "results/x", "stand_ins": "results/x/s"}
    step = {"cases": 3, "max_new_tokens": 12}
    book.agreement_step(book.Profile("p", False, {"all": {"vlm_endpoint": faithful, "device": "cpu"}}, agreement=step),
                        substitutions)
    with pytest.raises(DisagreementError, match="disagrees"):
        book.agreement_step(book.Profile("p", False, {"all": {"vlm_endpoint": maskless, "device": "cpu"}},
                                         agreement={"cases": CASES, "max_new_tokens": TOKENS}), substitutions)
