"""The earlier analysis recomputed from its own reports: the loader, the re-reading, the intro's prose."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cxr_lib.analysis import reference
from cxr_lib.data.datasets import REFERENCE_REPORTS_FILE, load_reference_reports
from cxr_lib.errors import DataError, DataNotFoundError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def earlier(data_dir: Path):
    if not (data_dir / REFERENCE_REPORTS_FILE).is_file():
        pytest.skip(f"no {REFERENCE_REPORTS_FILE} in {data_dir}")
    return reference.read_reports(load_reference_reports(data_dir))


def test_cut_off_is_a_text_that_stops_mid_sentence() -> None:
    assert not reference.looks_cut_off("No evidence of pneumonia.")
    assert not reference.looks_cut_off("Is there pneumonia? No!\n\n")
    assert not reference.looks_cut_off("**Conclusion:** normal.**")
    assert reference.looks_cut_off("However, a definitive diagnosis requires a full")
    assert reference.looks_cut_off("**Conclusion:** The image shows")
    assert reference.looks_cut_off("There are no clear opacities. However,")


def test_the_earlier_headline_is_computed_from_its_reports(earlier) -> None:
    headline = reference.headline(earlier)
    assert set(headline) == {"lanczos", "swin2sr"}
    for condition, row in headline.items():
        group = earlier[earlier["condition"] == condition]
        # its parser's accuracy, reproduced from the labels it stored
        assert row["parser right"] == int((group["reference_parser_label"] == group["truth"].map({0: "normal", 1: "pneumonia"})).sum())
        assert row["reports"] == 10 and row["normal cases"] == 9
        assert row["read pneumonia"] + row["read normal"] + row["read uncertain"] == row["reports"]
        assert row["right"] <= row["right if uncertain → normal"] and row["right"] <= row["right if uncertain → pneumonia"]
    assert (headline["lanczos"]["parser right"], headline["swin2sr"]["parser right"]) == (3, 6)  # the "30% → 60%"
    table = reference.headline_table(earlier)
    assert table.loc["its keyword parser: right", "lanczos"] == "3 of 10 (30%)"
    assert table.loc["its keyword parser: right", "swin2sr"] == "6 of 10 (60%)"
    # every report stopped mid-sentence is counted, and only those that had not concluded abstain
    cut = earlier[earlier["stop_reason"] == "max_new_tokens"]
    assert all(reference.looks_cut_off(t) for t in cut["text"])
    assert set(earlier.loc[earlier["rule"] == "cut-off", "index"]) <= set(cut["index"])


def test_comparison_reads_the_same_texts_both_ways(earlier) -> None:
    table = reference.comparison(earlier).set_index(["condition", "source"])
    parser = table.loc[("lanczos", reference.PARSER)]
    reader = table.loc[("lanczos", reference.READER)]
    assert parser["accuracy (abstention = wrong)"].endswith("(3/10)")
    assert parser["n"] == reader["n"] == 10 and parser["cut off"] == reader["cut off"]
    h = reference.headline(earlier)["lanczos"]
    assert reader["accuracy (abstention = wrong)"].endswith(f"({h['right']}/10)")
    assert reader["clear calls"] == h["clear calls"]


def test_the_intro_states_the_computed_numbers(earlier) -> None:
    """The intro's sentences about the earlier analysis are written from what its reports say when read
    (``{{ earlier_brief }}``, filled in from :func:`reference.brief` when the book is built)."""
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "{{ earlier_brief }}" in intro
    brief = reference.brief(earlier)
    h = reference.headline(earlier)
    lan, swin = h["lanczos"], h["swin2sr"]
    total = lan["reports"] + swin["reports"]
    called = lan["read pneumonia"] + swin["read pneumonia"]
    expected = [
        f"its keyword parser's labels give {lan['parser right']} of {lan['reports']} with Lanczos and "
        f"{swin['parser right']} of {swin['reports']} with Swin2SR right",
        f"{called or 'not one'} of the {total} reports call",
        f"with Swin2SR {swin['read normal']} conclude normal, {swin['read pneumonia']} pneumonia",
        f"{swin['right']} of {swin['reports']} right",
        f"with Lanczos {lan['read normal']} conclude normal",
        f"({lan['cut off before the verdict']} cut off by the 150-token budget before their verdict): {lan['right']} of "
        f"{lan['reports']} right, {lan['right if uncertain → normal']} if every uncertain reading were normal",
        f"\"Always normal\" scores {lan['normal cases']} of {lan['reports']}",
    ]
    for sentence in expected:
        assert sentence in brief, sentence
    better = max(max(x["right"], x["right if uncertain → normal"]) for x in h.values()) > lan["normal cases"]
    assert ("better than always normal on these ten cases" in brief) is better
    assert ("no report detects pneumonia" in brief) is (called == 0)


def test_loader_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DataNotFoundError, match=f"{REFERENCE_REPORTS_FILE} not found") as info:
        load_reference_reports()
    assert "\n" not in str(info.value) and "CXR_DATA_DIR" in str(info.value)
    good = {"condition": "lanczos", "test_index": 1, "ground_truth": "normal", "reference_parser_label": "pneumonia",
            "text": "No pneumonia."}
    path = tmp_path / REFERENCE_REPORTS_FILE
    path.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(DataError, match=":2 is not a report entry"):
        load_reference_reports()
    path.write_text(json.dumps({**good, "ground_truth": "maybe"}) + "\n")
    with pytest.raises(DataError, match=":1 has a label outside"):
        load_reference_reports()
    path.write_text(json.dumps(good) + "\n")
    frame = load_reference_reports()
    assert frame[["condition", "index", "truth", "reference_parser_label"]].values.tolist() == [["lanczos", 1, 0, "pneumonia"]]
