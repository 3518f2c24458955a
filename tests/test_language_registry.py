"""The language registry (cxr_lib.languages) as an extension point.

A language registered at run time reaches everything that lists or uses languages: ``cxr report
--help``, the app's menu, the prompt builder, the book's parameter check, notebook 3's default, the
right-to-left layout and the label reader; removing it takes it out of all of them. No module, test
or notebook keeps its own list of languages (a test reads them all), and every registered language
has its own test file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cxr_lib import study
from cxr_lib.analysis.labels import read_report
from cxr_lib.app.ui import language_choices
from cxr_lib.cli import main
from cxr_lib.errors import ParameterError, PromptError
from cxr_lib.languages import LANGUAGES, Language, Vocabulary, check_languages, describe, register, unregister
from cxr_lib.models.prompts import build_prompt
from cxr_lib.tooling import book

ROOT = Path(__file__).resolve().parents[1]

TESTISH = Language(
    code="qt", name="Testish", prompt_line="Please answer in Testish.", direction="rtl",
    vocabulary=Vocabulary(
        pneumonia_findings=(r"lungrot",), negation_before=(r"nix",), negation_after=(r"gone",),
        hedge_before=(r"mebbe",), conclusion_headings=(r"upshot",), no_answers=(r"nope",),
    ),
)


@pytest.fixture
def testish():
    """Testish, registered for one test and removed after it."""
    register(TESTISH)
    try:
        yield TESTISH
    finally:
        unregister(TESTISH.code)


def _report_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_a_registered_language_reaches_help_app_prompts_notebooks_and_the_reader(testish, capsys) -> None:
    assert "qt (Testish)" in _report_help(capsys)
    assert ("Testish (qt)", "qt") in language_choices()
    assert build_prompt("zero-shot", "qt").endswith("\nPlease answer in Testish.")
    assert "Keep the final line in English" in build_prompt("structured", "Testish")
    book.check_parameters(ROOT / "notebooks" / "03_prompting.ipynb", {"languages": ["en", "qt"]})
    assert "qt" in check_languages(None)  # notebook 3's default: every language
    assert 'dir="rtl"' in study.report_html("Nix lungrot.", "qt")
    assert (read_report("Nix lungrot.").label, read_report("Nix lungrot.").evidence) == ("normal", "Nix lungrot.")
    assert read_report("Lungrot gone.").label == "normal"
    assert read_report("Mebbe lungrot.").label == "uncertain"
    assert (read_report("Upshot: lungrot.").label, read_report("Upshot: lungrot.").rule) == ("pneumonia",
                                                                                          "impression-positive")
    assert read_report("Lungrot: nope").rule == "answer-negated"


def test_an_unregistered_language_is_gone_from_all_of_them(capsys) -> None:
    register(TESTISH)
    unregister(TESTISH.code)
    assert "Testish" not in _report_help(capsys)
    assert all(code != "qt" for _, code in language_choices())
    with pytest.raises(PromptError, match="unknown language 'qt'"):
        build_prompt("zero-shot", "qt")
    with pytest.raises(ParameterError, match="03_prompting.ipynb: parameter 'languages': unknown language 'qt'"):
        book.check_parameters(ROOT / "notebooks" / "03_prompting.ipynb", {"languages": ["en", "qt"]})
    assert read_report("Nix lungrot.").rule == "no-statement"


def test_registering_checks_the_definition(testish) -> None:
    with pytest.raises(PromptError, match="already registered"):
        register(TESTISH)
    with pytest.raises(PromptError, match="already registered"):
        register(Language(code="qu", name="testish", prompt_line=""))
    with pytest.raises(PromptError, match=r"pneumonia_findings: '\(unclosed' is not a valid regular expression"):
        register(Language(code="qu", name="Broken", prompt_line="",
                          vocabulary=Vocabulary(pneumonia_findings=("(unclosed",))))
    with pytest.raises(PromptError, match="belongs in negation_either"):
        register(Language(code="qu", name="Twice", prompt_line="",
                          vocabulary=Vocabulary(negation_before=("nein",), negation_after=("nein",))))
    with pytest.raises(PromptError, match="lower-case ISO 639 code"):
        register(Language(code="Q1", name="Odd", prompt_line=""))
    assert "qu" not in LANGUAGES
    with pytest.raises(PromptError, match="no language with code 'qu'"):
        unregister("qu")
    with pytest.raises(PromptError, match="list of languages is empty"):
        check_languages([])


def test_replacing_a_language_keeps_its_place_in_the_menu(testish) -> None:
    order = list(LANGUAGES)
    register(Language(code="qt", name="Testish", prompt_line="Please answer in Testish, kindly."), replace=True)
    assert list(LANGUAGES) == order and build_prompt("zero-shot", "qt").endswith("kindly.")


def test_every_language_has_its_own_test_file() -> None:
    missing = [name for name in (language.name.lower() for language in LANGUAGES.values())
               if not (ROOT / "tests" / f"test_language_{name}.py").is_file()]
    assert not missing, f"write tests/test_language_<name>.py for {missing} (see CONVENTIONS.md, 'Adding a language')"


# ------------------------------------------------------------------------------------------
# No hand-typed list of languages outside the registry.

def language_lists(source: str) -> list[str]:
    """Places in Python ``source`` that enumerate three or more registered languages by hand: a list,
    tuple, set or dict literal holding their codes or names, a string naming three of them, or a
    string listing three codes separated by commas, bars or slashes. One or two languages (a
    default, an example) are not a list."""
    codes = {code: code for code in LANGUAGES}
    by_word = {**codes, **{language.name.lower(): code for code, language in LANGUAGES.items()}}
    names = "|".join(re.escape(language.name) for language in LANGUAGES.values())
    code_run = re.compile(r"(?<!\w)(?:%s)(?:\s*[,|/]\s*(?:%s)(?!\w)){2,}" % ("|".join(codes), "|".join(codes)))
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            elements = node.keys if isinstance(node, ast.Dict) else node.elts
            strings = [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len({by_word[s.strip().lower()] for s in strings if s.strip().lower() in by_word}) >= 3:
                found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = set(re.findall(rf"(?<!\w)(?:{names})(?!\w)", node.value, flags=re.IGNORECASE))
            if len({name.lower() for name in named}) >= 3 or code_run.search(node.value):
                found.append(f"line {node.lineno}: {node.value[:80]!r}")
    return found


def test_the_list_finder_finds_lists_and_leaves_single_languages() -> None:
    first, second, third = list(LANGUAGES)[:3]
    names = [LANGUAGES[code].name for code in (first, second, third)]
    assert language_lists(f"LANGS = {[first, second, third]!r}")
    assert language_lists(f"NAMES = {{{first!r}: {names[0]!r}, {second!r}: {names[1]!r}, {third!r}: {names[2]!r}}}")
    assert language_lists(f"help = {f'answer language: {first}, {second}, {third}'!r}")
    assert language_lists(f'"""Words such as {names[0]}, {names[1]} and {names[2]}."""')
    assert not language_lists(f"build_prompt('zero-shot', {first!r}); languages = [{first!r}, {second!r}]")
    assert not language_lists(f"direction = 'rtl' if language in ({first!r}, {names[0]!r}) else 'ltr'")


def test_no_module_test_or_notebook_lists_the_languages() -> None:
    registry = ROOT / "cxr_lib" / "languages"
    files = [p for folder in ("cxr_lib", "tests", "notebooks") for p in sorted((ROOT / folder).rglob("*.py"))
             if registry not in p.parents]
    assert len(files) > 50
    found = {p.relative_to(ROOT).as_posix(): hits for p in files
             if (hits := language_lists(p.read_text(encoding="utf-8")))}
    assert not found, f"lists of languages outside cxr_lib/languages (read the registry instead): {found}"


def test_describe_names_every_language_once() -> None:
    text = describe()
    assert all(text.count(f"{code} ({language.name})") == 1 for code, language in LANGUAGES.items())
