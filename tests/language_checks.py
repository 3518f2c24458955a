"""What every ``tests/test_language_<name>.py`` checks: the language's registry entry, and the label
reader's reading of its constructions — the label AND the evidence (the deciding sentence or line),
so a right label reached for the wrong reason fails."""

from __future__ import annotations

from typing import Callable

import pytest

from cxr_lib.analysis.labels import read_report
from cxr_lib.languages import DEFAULT_LANGUAGE, LANGUAGES, get_language
from cxr_lib.models.prompts import build_prompt

#: The vocabulary a language needs for the reader to read its ordinary reports (each field non-empty).
ESSENTIAL_FIELDS = (
    "pneumonia_findings", "opacity_findings", "negation_before", "hedge_before", "call_linking", "terminations",
    "normal_study", "lung_words", "conclusion_headings", "body_headings", "answer_markers", "pneumonia_tokens",
    "yes_answers", "no_answers", "or_words",
)


def assert_reads(text: str, label: str, evidence: str) -> None:
    """``read_report(text)`` gives ``label`` and quotes ``evidence`` as the sentence that decided."""
    reading = read_report(text)
    assert (reading.label, reading.evidence) == (label, evidence), reading


def assert_entry(code: str, name: str, direction: str = "ltr") -> None:
    """The language is registered under ``code`` and ``name``, asks for answers in itself, is written in
    ``direction``, and has a usable vocabulary with every essential field filled in."""
    language = LANGUAGES[code]
    assert language.code == code and language.name == name and language.direction == direction
    assert get_language(name) is language and get_language(code.upper()) is language
    if code != DEFAULT_LANGUAGE:
        assert f"Please answer in {name}." in build_prompt("zero-shot", code)
    assert language.vocabulary.check() == []
    assert [field for field in ESSENTIAL_FIELDS if not getattr(language.vocabulary, field)] == []
    assert language.vocabulary.negation_after or language.vocabulary.negation_either
    assert language.vocabulary.normal_words or language.vocabulary.normal_lung_phrases


def reading_tests(*tables: list[tuple[str, str, str]]) -> Callable[[str, str, str], None]:
    """A test over every ``(text, label, evidence)`` case of ``tables`` (one table per construction)."""

    @pytest.mark.parametrize(("text", "label", "evidence"), [case for table in tables for case in table])
    def test_reading(text: str, label: str, evidence: str) -> None:
        assert_reads(text, label, evidence)

    return test_reading
