"""``cxr book --plan``: what a profile runs and its estimated GPU time and memory, offline, without a model."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from cxr_lib.cli import main
from cxr_lib.tooling import book, plan

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def no_models(monkeypatch):
    """Any attempt to load a model or ask a server fails the test."""
    from cxr_lib.analysis import agreement
    from cxr_lib.models import vlm

    def refuse(*args, **kwargs):
        raise AssertionError("the plan loaded a model or asked a server")

    for module, name in ((vlm, "load_vlm"), (vlm.VLM, "load"), (book, "open_endpoint"), (agreement, "open_endpoint")):
        monkeypatch.setattr(module, name, refuse)


@pytest.mark.parametrize("profile", ["full", "vllm"])
def test_the_plan_prints_offline_in_seconds(profile, data_dir, no_models, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    assert main(["book", "--root", str(ROOT), "--profile", profile, "--plan"]) == 0
    took = time.monotonic() - started
    out = capsys.readouterr().out
    assert took < 60, took  # seconds on an idle machine; generous for a busy one
    total = re.search(r"total: (\d+) reports .*?, (\d+) answer scores, at most ([\d,]+) new tokens", out)
    assert total, out
    reports, scored, tokens = int(total[1]), int(total[2]), int(total[3].replace(",", ""))
    assert 0 < scored < reports and tokens == pytest.approx(reports * 1024, rel=0.1)
    assert "prompt grid · lanczos · 4 strategies × 6 languages       3       24       72" in out  # 3 cases × 24 prompts
    rows = {line.split()[0]: line for line in out.splitlines() if re.match(r"^(T4|L4|A100|H100|H200)\s", line)}
    hours = {card: float(line.split()[-1]) for card, line in rows.items()}
    assert hours["L4"] > hours["A100"] >= hours["H100"] >= hours["H200"] > 0 and "measured" in rows["H200"]
    assert all("scaled" in rows[card] for card in ("L4", "A100", "H100"))
    if profile == "full":
        assert set(rows) == {"T4", "L4", "A100", "H100", "H200"}
        assert "scaled" in rows["T4"] and "4-bit NF4, float32 compute" in rows["T4"] and hours["T4"] > hours["L4"]
        assert float(re.search(r"(\d+\.\d) of (\d+\.\d)", rows["T4"])[1]) < 15.0  # fits the T4's 15 GB
    else:  # a server on a T4 would run Gemma 3 in float16: no row, and the reason
        assert "T4" not in rows and "no T4 row" in out
        assert "asked of the server at http://127.0.0.1:8000/v1" in out
        assert "the agreement check, 20 images" in out


def test_the_full_and_vllm_profiles_run_the_same_study(data_dir, no_models):
    full, served = plan.profile_plan(ROOT, "full"), plan.profile_plan(ROOT, "vllm")
    assert plan.Plan.totals(full) == plan.Plan.totals(served)
    assert full.endpoint is None and served.endpoint == "http://127.0.0.1:8000/v1" and served.agreement_cases == 20


def test_a_report_two_notebooks_share_is_counted_once(data_dir, no_models):
    full = plan.profile_plan(ROOT, "full")
    table = full.table()
    second_lanczos = table[(table["notebook"] == "02_super_resolution") & (table["step"].str.startswith("lanczos"))]
    assert int(second_lanczos["images"].iloc[0]) > 0 and int(second_lanczos["reports"].iloc[0]) == 0
    assert table["reports"].sum() == len(set().union(*(step.keys() for step in full.steps)))


def test_the_profile_headers_quote_the_plan():
    for name in ("full", "vllm"):
        header = (ROOT / "profiles" / f"{name}.yaml").read_text()
        assert "cxr book --profile " + name + " --plan" in header and re.search(r"H100 .*h", header)
        assert re.search(r"T4 .*4-bit" if name == "full" else r"no T4", header)
    assert "--plan" in (ROOT / "README.md").read_text()


def test_the_quoted_totals_are_the_plans_own(data_dir, no_models):
    """The README and the profile headers quote the full profile's totals: they must be today's."""
    totals = plan.profile_plan(ROOT, "full").totals()
    quoted = [f"{totals['reports']:,} reports", f"{totals['scored']:,} answer scores", f"{totals['new_tokens']:,} new tokens"]
    for path in (ROOT / "README.md", ROOT / "profiles" / "full.yaml", ROOT / "profiles" / "vllm.yaml"):
        text = " ".join(path.read_text().replace("#", " ").replace("(", " ").split())
        missing = [phrase for phrase in quoted if phrase not in text]
        assert not missing, f"{path.name} quotes a stale plan: rerun `cxr book --profile full --plan` ({missing})"


def test_a_bad_agreement_step_in_a_profile_is_one_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nstand_ins: false\nagreement: {cases: 5, colour: red}\nparameters: {}\n")
    with pytest.raises(book.ParameterError, match="agreement must be a mapping with keys among"):
        book.load_profile(path)
