"""Each extension point is one registry: an entry added at run time reaches every help text, menu, check and table.

The extension points are the upscalers (:data:`cxr_lib.models.upscale.UPSCALERS`), the prompt
strategies (:data:`cxr_lib.models.prompts.STRATEGIES`), the report backends
(:data:`cxr_lib.models.backends.BACKENDS`), the CLI's command groups (:data:`cxr_lib.cli.COMMAND_GROUPS`)
and the profiles (the YAML files in ``profiles/``). Each test below registers a throwaway entry
(``monkeypatch`` removes it afterwards) and finds it wherever a user would look for it. The last
tests check that no module, test or notebook keeps a hand-typed copy of a registry's names, and that
the pages which list them agree with the registries.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_lib import cli, study
from cxr_lib.data.images import to_pil
from cxr_lib.errors import ParameterError
from cxr_lib.models.backends import BACKENDS, Backend
from cxr_lib.models.prompts import STRATEGIES, PromptStrategy, build_prompt, prompt_presets
from cxr_lib.models.registry import Names
from cxr_lib.models.upscale import (
    FINAL_RESIZES,
    INTERPOLATIONS,
    LEARNED,
    NO_WEIGHTS,
    UPSCALERS,
    UpscalerSpec,
    described,
    upscale,
)
from cxr_lib.tooling import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = {name: ROOT / "notebooks" / f"{name}.ipynb" for name in book.NOTEBOOKS}


def box_unsharp(image: np.ndarray, size: int) -> np.ndarray:
    """A box-filter resize, then an unsharp mask: an interpolation that is not one of PIL's resize filters."""
    from PIL import Image, ImageFilter

    enlarged = to_pil(image).resize((size, size), Image.Resampling.BOX)
    return np.asarray(enlarged.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=0)))


#: The throwaway entries, one per extension point.
NEW_UPSCALER = UpscalerSpec("box-unsharp", "box + unsharp mask", "interpolation",
                            described("PIL box resize, then an unsharp mask (radius 2, 150%)", NO_WEIGHTS),
                            resample=box_unsharp)
NEW_STRATEGY = PromptStrategy("one-word", "a one-word verdict, nothing else", "Answer with one word: pneumonia or normal.")


@pytest.fixture
def new_upscaler(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(UPSCALERS, NEW_UPSCALER.name, NEW_UPSCALER)
    return NEW_UPSCALER.name


@pytest.fixture
def new_strategy(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(STRATEGIES, NEW_STRATEGY.name, NEW_STRATEGY)
    return NEW_STRATEGY.name


@pytest.fixture(scope="module")
def app_menus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, str]]]:
    """The app's dropdowns (elem_id → its (shown, value) choices), built (never launched) while the
    throwaway upscaler and strategy are registered; the registries are restored afterwards."""
    from cxr_lib.app.ui import build_app

    folder = tmp_path_factory.mktemp("app")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(UPSCALERS, NEW_UPSCALER.name, NEW_UPSCALER)
        patch.setitem(STRATEGIES, NEW_STRATEGY.name, NEW_STRATEGY)
        app = build_app(str(folder / "no-such-model"), results_dir=folder / "results")
    menus = {block.elem_id: list(block.choices) for block in app.blocks.values() if hasattr(block, "choices")}
    app.close()
    return menus


def command_help(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, *command: str) -> str:
    """What ``cxr COMMAND --help`` prints, unwrapped (argparse wraps at $COLUMNS)."""
    monkeypatch.setenv("COLUMNS", "2000")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        cli.main([*command, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def option_help(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, command: str, option: str) -> str:
    """The line of ``cxr COMMAND --help`` that describes ``option``."""
    (line,) = re.findall(rf"^\s+{option}\b.*$", command_help(capsys, monkeypatch, command), re.M)
    return line


def declared_parameters(notebook: Path) -> dict[str, dict]:
    """A notebook's parameters as papermill reads them from its ``parameters`` cell."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run ``cxr`` expecting exit status 2 and one line on stderr; return that line."""
    capsys.readouterr()
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cxr: error: ") and "\n" not in err and "Traceback" not in err
    return err


# --------------------------------------------------------------------------- live views


def test_names_follow_the_registry_they_view() -> None:
    registry = {"a": 1, "b": 2}
    odd, conditions = Names(registry, lambda value: value % 2 == 1), Names(registry, extra=("z",))
    assert odd == ("a",) and conditions == ["a", "b", "z"] and conditions + ("y",) == ("a", "b", "z", "y")
    registry["c"] = 3  # registered after the views were made
    assert odd == ("a", "c") and list(conditions) == ["a", "b", "c", "z"] and len(conditions) == 4
    assert "c" in conditions and conditions[2] == "c" and conditions[-1] == "z" and conditions[:2] == ("a", "b")
    assert ", ".join(odd) == "a, c" and repr(odd) == "Names('a', 'c')"
    with pytest.raises(TypeError):
        hash(odd)  # its contents change: never a dict key or a cache key


# --------------------------------------------------------------------------- upscalers


def test_adding_an_interpolation_upscaler_is_one_registry_entry(new_upscaler: str, app_menus, capsys, monkeypatch,
                                                                tmp_path: Path, data_dir: Path, test_split) -> None:
    from PIL import Image

    # its pixels: the box resize, sharpened
    image = test_split.image(22)
    made = upscale(image, new_upscaler, 112)
    box = np.asarray(to_pil(image).resize((112, 112), Image.Resampling.BOX))
    assert made.shape == (112, 112) and made.dtype == np.uint8 and made.std() > box.std()
    # the CLI: both help texts offer it, and both commands run it
    assert new_upscaler in option_help(capsys, monkeypatch, "upscale", "--method")
    assert new_upscaler in option_help(capsys, monkeypatch, "fidelity", "--methods")
    assert cli.main(["upscale", "--index", "22", "--method", new_upscaler, "--size", "112", "--out", str(tmp_path / "x.png")]) == 0
    assert (np.asarray(Image.open(tmp_path / "x.png")) == made).all()
    assert cli.main(["fidelity", "--methods", new_upscaler, "--limit", "2", "--out", str(tmp_path / "f.csv")]) == 0
    assert set(pd.read_csv(tmp_path / "f.csv")["method"]) == {new_upscaler}
    # the app's menu, under its label
    assert (NEW_UPSCALER.label, new_upscaler) in app_menus["upscaler"]
    # the conditions table says what makes it
    row = study.conditions_table(["lanczos", new_upscaler]).loc[new_upscaler]
    assert (row["shown as"], row["made by"], row["weights"]) == (NEW_UPSCALER.label, *NEW_UPSCALER.describe(None))
    # the notebooks' parameter check takes it wherever an upscaler is chosen
    book.check_parameters(NOTEBOOK["02_super_resolution"], {"conditions": [new_upscaler, "hr"], "fidelity_methods": [new_upscaler],
                                                            "figure_methods": [new_upscaler], "reader_inputs": [new_upscaler]})
    book.check_parameters(NOTEBOOK["03_prompting"], {"upscaler": new_upscaler})
    # it did not say it may be a final resize, so it is not one
    assert new_upscaler not in FINAL_RESIZES
    assert "is not a final-resize filter" in one_line_error(
        capsys, ["upscale", "--index", "22", "--method", "swin2sr-cxr", "--final-resize", new_upscaler, "--out", str(tmp_path / "y.png")])
    # and once it is gone, the same check refuses it
    monkeypatch.delitem(UPSCALERS, new_upscaler)
    with pytest.raises(ParameterError, match=f"02_super_resolution.ipynb: parameter 'conditions' names '{new_upscaler}'"):
        book.check_parameters(NOTEBOOK["02_super_resolution"], {"conditions": [new_upscaler]})


# --------------------------------------------------------------------------- prompt strategies


def test_adding_a_prompt_strategy_is_one_registry_entry(new_strategy: str, app_menus, capsys, monkeypatch, tmp_path: Path,
                                                        test_split) -> None:
    from cxr_lib.analysis import runner

    assert build_prompt(new_strategy, "fr") == f"{NEW_STRATEGY.text}\nPlease answer in French."
    # the CLI's help, the app's menu (with its text), the strategies table
    assert new_strategy in option_help(capsys, monkeypatch, "report", "--prompt")
    assert (new_strategy, new_strategy) in app_menus["preset"] and prompt_presets()[new_strategy] == NEW_STRATEGY.text
    assert study.prompt_strategies().loc[new_strategy].tolist() == [NEW_STRATEGY.purpose, NEW_STRATEGY.text]
    # the notebooks' parameter check, and notebook 3 compares every registered strategy by default
    book.check_parameters(NOTEBOOK["01_baseline"], {"prompt_strategy": new_strategy})
    book.check_parameters(NOTEBOOK["03_prompting"], {"strategies": ["structured", new_strategy]})
    assert declared_parameters(NOTEBOOK["03_prompting"])["strategies"]["default"] == "None"
    asked = {}
    monkeypatch.setattr(runner, "run_prompt_grid", lambda *args, **kwargs: asked.update(kwargs))
    study.run_prompt_grid(None, test_split, [22], None, ["en"], settings=None, results_dir=tmp_path)
    assert asked["strategies"] == list(STRATEGIES) and new_strategy in asked["strategies"]
    monkeypatch.delitem(STRATEGIES, new_strategy)
    with pytest.raises(ParameterError, match=f"parameter 'strategies' names '{new_strategy}'"):
        book.check_parameters(NOTEBOOK["03_prompting"], {"strategies": [new_strategy]})


# --------------------------------------------------------------------------- backends


def test_adding_a_backend_is_one_registry_entry(stand_in_dir: Path, capsys, monkeypatch, tmp_path: Path, data_dir: Path) -> None:
    """A backend is chosen by ``--backend`` (cxr report, cxr ui) or ``open_vlm(backend=…)``; the notebooks
    and the app choose theirs by the endpoint they are given, so they have no menu to reach."""
    from cxr_lib.models.vlm import load_vlm

    opened = []

    def open_recorded(model, **options):
        opened.append((str(model), options["endpoint"]))
        return load_vlm(model, lazy=True)

    monkeypatch.setitem(BACKENDS, "recorded", Backend("recorded", "the model in this process, each opening recorded", open_recorded))
    for command in ("report", "ui"):
        assert "recorded: the model in this process, each opening recorded" in option_help(capsys, monkeypatch, command, "--backend")
    model = str(stand_in_dir / "medgemma")
    args = ["report", "--index", "22", "--model", model, "--max-new-tokens", "4", "--results", str(tmp_path), "--json"]
    assert cli.main([*args, "--backend", "recorded"]) == 0
    assert opened == [(model, None)] and '"model_id"' in capsys.readouterr().out
    assert "unknown backend 'nowhere': choose one of" in one_line_error(capsys, [*args, "--backend", "nowhere"])


# --------------------------------------------------------------------------- command groups and profiles


def test_adding_a_command_group_is_one_entry(capsys, monkeypatch) -> None:
    def _add_hello(sub) -> None:
        sub.add_parser("hello", help="say hello").set_defaults(handler=lambda args: print("hello") or 0)

    monkeypatch.setattr(cli, "COMMAND_GROUPS", [*cli.COMMAND_GROUPS, _add_hello])
    monkeypatch.setenv("COLUMNS", "2000")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert re.search(r"^\s+hello\s+say hello$", capsys.readouterr().out, re.M)
    assert cli.main(["hello"]) == 0 and capsys.readouterr().out == "hello\n"


def commands() -> set[str]:
    """The commands of ``cxr``, read from its parser."""
    import argparse

    (sub,) = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_readme_command_table_names_every_command_and_no_other() -> None:
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `cxr ")]
    listed = {re.match(r"\| `cxr ([\w-]+)", line).group(1) for line in rows}
    assert listed == commands()


def test_adding_a_profile_is_one_file(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "tiny.yaml").write_text("name: tiny\nparameters:\n  03_prompting:\n    cases: [22]\n")
    monkeypatch.chdir(tmp_path)  # `cxr book --root .` is the default: its help names the profiles found there
    assert "(here: tiny)" in command_help(capsys, monkeypatch, "book")
    assert book.profile_names(tmp_path) == ["tiny"]
    profile = book.load_profile(tmp_path / "profiles" / "tiny.yaml")
    for notebook in book.NOTEBOOKS:
        book.check_parameters(NOTEBOOK[notebook], book.notebook_parameters(profile, notebook, {}))
    with pytest.raises(ParameterError, match=r"use one of tiny \(the files in .*profiles\) or a profile file"):
        book.load_profile(tmp_path / "profiles" / "huge.yaml")
    shipped = ", ".join(book.profile_names(ROOT))
    assert f"use one of {shipped}" in one_line_error(capsys, ["book", "--root", str(ROOT), "--profile", "huge"])


# --------------------------------------------------------------------------- the notebooks' parameter check


def test_registered_parameters_are_the_notebooks_own() -> None:
    declared = set().union(*(declared_parameters(path) for path in NOTEBOOK.values()))
    assert set(study.REGISTERED_PARAMETERS) <= declared


# --------------------------------------------------------------------------- no second list


#: Where a registry is written out, by design: the registry itself (and the Real-ESRGAN model table
#: from which UPSCALERS makes one entry per model).
#: The assignments that may name registered entries one by one: the registries themselves, and the
#: reader's pre-specified family (a study design fixed in code, so that registering an upscaler never
#: changes its Holm correction by accident).
REGISTRIES = {"cxr_lib/models/upscale.py": "UPSCALERS", "cxr_lib/models/realesrgan.py": "MODELS",
              "cxr_lib/analysis/reader.py": "FAMILY",
              "cxr_lib/models/prompts.py": "STRATEGIES"}
WORD = re.compile(r"\w[\w-]*\w|\w")


def registry_groups() -> dict[str, set[str]]:
    """Each set of names a hand-typed list could copy: a whole registry, or a group within the upscalers."""
    groups = {"every upscaler": set(UPSCALERS), "every prompt strategy": set(STRATEGIES),
              "every upscaler without a model": set(INTERPOLATIONS), "every upscaler with a model": set(LEARNED),
              "every final-resize filter": set(FINAL_RESIZES)}
    for kind in {spec.kind for spec in UPSCALERS.values()}:
        groups[f"every {kind} upscaler"] = {name for name, spec in UPSCALERS.items() if spec.kind == kind}
    return {label: names for label, names in groups.items() if len(names) >= 2}


def _copies(names: set[str], smallest: int) -> list[str]:
    return [label for label, group in registry_groups().items() if len(group) >= smallest and group <= names]


def _exempt_lines(tree: ast.Module, registry: str | None, parameters: range | None) -> set[int]:
    """Lines whose literals are not searched: the registry's own assignment, a notebook's parameters cell."""
    lines = set(parameters or ())
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if registry and any(isinstance(t, ast.Name) and t.id == registry for t in targets):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def hand_typed_lists(source: str, registry: str | None = None, parameters: range | None = None) -> list[tuple[int, str]]:
    """(line, which group it copies) for every hand-typed list of registered names in Python ``source``."""
    tree = ast.parse(source)
    skipped = _exempt_lines(tree, registry, parameters)
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            copies = _copies({i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)}, 2)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            copies = _copies(set(WORD.findall(node.value)), 3)
        else:
            continue
        found += [(node.lineno, label) for label in copies]
    block: list[str] = []
    start = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):  # comment blocks: Markdown cells in a notebook
        if token.type == tokenize.COMMENT:
            if not block:
                start = token.start[0]
            block.append(token.string)
        elif token.type not in (tokenize.NL, tokenize.NEWLINE) and block:
            found += [(start, label) for label in _copies(set(WORD.findall(" ".join(block))), 3)]
            block = []
    return found


def _parameters_cell(source: str) -> range:
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines, 1) if 'tags=["parameters"]' in line)
    end = next((i for i, line in enumerate(lines, 1) if i > start and line.startswith("# %%")), len(lines) + 1)
    return range(start, end)


def test_the_search_finds_a_copy_and_leaves_a_choice() -> None:
    every, some = list(INTERPOLATIONS), sorted(UPSCALERS)[:1] + sorted(STRATEGIES)[:1]
    assert hand_typed_lists(f"METHODS = {tuple(every)!r}\n")  # a copy of a group, as a literal
    assert hand_typed_lists(f"HELP = {', '.join(every) + ' or hr'!r}\n")  # ... in a help text
    assert hand_typed_lists(f"# {' | '.join(STRATEGIES)}\nx = 1\n")  # ... in a comment
    assert hand_typed_lists(f"UPSCALERS = {tuple(every)!r}\n", registry="UPSCALERS") == []  # the registry itself
    assert hand_typed_lists(f"conditions = {some!r}\n") == []  # a choice of a few
    assert hand_typed_lists(f"x = {list(every)!r}\n", parameters=range(1, 2)) == []  # a parameters cell chooses


def test_no_module_test_or_notebook_types_a_registry_out() -> None:
    """No hand-typed list of registered upscaler or strategy names outside their registries.

    A hand-typed list names every entry of a group: a whole registry (every upscaler, every prompt
    strategy), every upscaler of one kind, every upscaler without a model or with one, or every
    final-resize filter. It is found as a tuple, list or set literal or a dict's keys holding every
    name of a group of two or more, and as a string (help text, message, docstring) or comment block
    (a notebook's Markdown cell) naming every name of a group of three or more: two entries named side
    by side in a sentence are prose, not a copy. Searched: cxr_lib/, tests/ and the notebooks'
    ``.py`` sources. Allowed: the registries themselves (``UPSCALERS``, the Real-ESRGAN model table
    ``MODELS`` it makes entries from, ``STRATEGIES``), the reader's pre-specified ``FAMILY``, the values in the notebooks' parameters cells
    and the profiles' YAML: these *choose* what to run, they register nothing, and
    :func:`cxr_lib.tooling.book.check_parameters` checks each choice against the registry.
    """
    found = []
    for path in [*sorted((ROOT / "cxr_lib").rglob("*.py")), *sorted((ROOT / "tests").rglob("*.py"))]:
        relative = path.relative_to(ROOT).as_posix()
        found += [f"{relative}:{line}: {label}" for line, label in hand_typed_lists(path.read_text(), REGISTRIES.get(relative))]
    for path in sorted((ROOT / "notebooks").glob("*.py")):
        source = path.read_text()
        found += [f"notebooks/{path.name}:{line}: {label}"
                  for line, label in hand_typed_lists(source, parameters=_parameters_cell(source))]
    assert not found, "hand-typed lists of registered names (read the registry instead):\n" + "\n".join(found)


# --------------------------------------------------------------------------- the docs that list them


def _section(page: str, heading: str) -> str:
    text = (ROOT / page).read_text()
    return text.split(f"\n## {heading}")[1].split("\n## ")[0]


def test_the_methods_page_names_every_condition_and_strategy() -> None:
    conditions = {n for n in re.findall(r"`([^`\s]+)`", _section("book/methods.md", "Conditions")) if "." not in n}
    assert conditions == set(UPSCALERS) | {"hr"}
    strategies = {n for n in re.findall(r"`([^`]+)`", _section("book/methods.md", "Prompts"))}
    assert set(STRATEGIES) <= strategies
