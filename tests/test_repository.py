"""The repository a book is published from, in one place; the Colab buttons and install cells that use it.

Colab is not reachable here. Its behaviour that the install cell relies on is reproduced by a local
fake, from these sources:
- Colab opens a GitHub notebook at ``https://colab.research.google.com/github/OWNER/NAME/blob/BRANCH/PATH``
  (Colab's "GitHub" notebook, colab-github-demo.ipynb in googlecolab/colabtools);
- ``google.colab`` is imported in every Colab kernel when it starts, which is how notebooks tell they
  run there;
- the kernel can ask the runtime's Jupyter server for its sessions (``GET /api/sessions`` at
  ``$COLAB_JUPYTER_IP``, port ``$KMP_TARGET_PORT``, 9000): googlecolab/colabtools#3207 (the address is
  not stable, read it from the environment) and the Jupyter Server REST API (``path``, ``name``,
  ``type``, ``kernel`` per session); Colab gives a notebook opened from a URL the path
  ``fileId=<the URL, percent-encoded>`` (its ``#fileId=`` links, and public code that reads
  ``fileId=https%3A%2F%2Fgithub.com%2F…`` there). There is no documented API for it
  (googlecolab/colabtools#4069), so the cell also takes the ``repository`` parameter, and stops with
  one line naming it when the path names no GitHub notebook.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import tomllib
import types
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Iterator

import nbformat
import pytest
from conftest import MADE_UP_BRANCH, MADE_UP_REPOSITORY, ROOT, BuiltBook, copy_project

from cxr_lib.errors import ParameterError
from cxr_lib.tooling import book, repository
from cxr_lib.tooling.repository import SourceRepository, source_repository

#: The old placeholder, and any link to a GitHub owner called OWNER: neither may reach a reader.
PLACEHOLDERS = ("OWNER/cxr-second-opinion", "github.com/OWNER/", "github/OWNER/")
#: What each notebook's parameters can ask for, so what its Colab install needs (pyproject extras).
NEEDED_EXTRAS = {
    "01_baseline": {"notebooks", "gpu"},  # load_in_4bit: bitsandbytes, for a 16 GB T4
    "02_super_resolution": {"notebooks", "sr", "gpu"},  # Real-ESRGAN upscalers among its conditions
    "03_prompting": {"ui", "notebooks", "sr", "gpu"},  # the Gradio app; any upscaler, Real-ESRGAN's too
}


# --------------------------------------------------------------------------- the one setting


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"CXR_REPOSITORY": "someone/fork"}, ("someone/fork", "main")),
        ({"CXR_REPOSITORY": "someone/fork@feature/x", "GITHUB_REPOSITORY": "up/stream"}, ("someone/fork", "feature/x")),
        # GitHub Actions' default variables (docs: "Variables" → "Default environment variables")
        ({"GITHUB_REPOSITORY": "someone/fork", "GITHUB_REF_NAME": "main", "GITHUB_REF": "refs/heads/main"}, ("someone/fork", "main")),
        ({"GITHUB_REPOSITORY": "someone/fork", "GITHUB_REF_NAME": "v1.2", "GITHUB_REF": "refs/tags/v1.2"}, ("someone/fork", "v1.2")),
        # a pull request builds refs/pull/N/merge (GITHUB_REF_NAME "N/merge"); its target branch is GITHUB_BASE_REF
        ({"GITHUB_REPOSITORY": "someone/fork", "GITHUB_REF_NAME": "7/merge", "GITHUB_REF": "refs/pull/7/merge",
          "GITHUB_BASE_REF": "develop"}, ("someone/fork", "develop")),
    ],
)
def test_repository_comes_from_the_setting_then_github_actions(environ: dict, expected: tuple, tmp_path: Path) -> None:
    found = source_repository(tmp_path, environ)
    assert (found.slug, found.branch) == expected


@pytest.mark.parametrize(
    "remote, slug",
    [
        ("https://github.com/someone/fork.git", "someone/fork"),
        ("https://github.com/someone/fork", "someone/fork"),
        ("git@github.com:someone/fork.git", "someone/fork"),
        ("ssh://git@github.com/someone/my.fork.git", "someone/my.fork"),
        ("https://gitlab.com/someone/fork.git", None),  # Colab opens GitHub notebooks only
    ],
)
def test_locally_the_origin_remote_names_it(tmp_path: Path, remote: str, slug: str | None) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert source_repository(tmp_path, {}) is None  # no remote: no repository, and no buttons
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    found = source_repository(tmp_path, {})
    assert (found and (found.slug, found.branch)) == (slug and (slug, "main"))


@pytest.mark.parametrize("value", ["someone", "someone/fork/extra", "some one/fork", "someone/fork@", "a/b@x..y", "-x/fork"])
def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path, value: str) -> None:
    with pytest.raises(ParameterError, match=f"^CXR_REPOSITORY={re.escape(repr(value))} is not a GitHub repository: use OWNER/NAME"):
        source_repository(tmp_path, {"CXR_REPOSITORY": value})


def test_cxr_book_refuses_a_bad_setting_before_any_work(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    env = {**_environ_without_repository(), "CXR_REPOSITORY": "not a repository"}
    finished = subprocess.run([sys.executable, "-m", "cxr_lib", "book", "--root", str(project), "--results", str(tmp_path / "results")],
                              cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.strip().splitlines() == [
        "cxr: error: CXR_REPOSITORY='not a repository' is not a GitHub repository: use OWNER/NAME or OWNER/NAME@BRANCH"]
    assert not (tmp_path / "results").exists()


def _environ_without_repository() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("CXR_REPOSITORY", "GITHUB_REPOSITORY", "GITHUB_REF",
                                                              "GITHUB_REF_NAME", "GITHUB_BASE_REF")}


def test_colab_link_is_colabs_github_form() -> None:
    found = SourceRepository.parse("someone/fork@dev")
    assert found.colab_url("notebooks/01_baseline.ipynb") == \
        "https://colab.research.google.com/github/someone/fork/blob/dev/notebooks/01_baseline.ipynb"
    assert found.spec == "someone/fork@dev" and found.url == "https://github.com/someone/fork"


def test_book_configuration_gets_buttons_only_with_a_repository() -> None:
    config = {"html": {"use_repository_button": False}, "launch_buttons": {"notebook_interface": "classic"},
              "sphinx": {"config": {"nb_output_stderr": "remove"}}}
    assert repository.with_repository(config, None) == config
    derived = repository.with_repository(config, SourceRepository.parse("someone/fork@dev"))
    assert derived["repository"] == {"url": "https://github.com/someone/fork", "branch": "dev", "path_to_book": ""}
    assert derived["launch_buttons"] == {"notebook_interface": "classic", "colab_url": "https://colab.research.google.com"}
    assert derived["html"]["use_repository_button"] is True
    assert derived["sphinx"]["extra_extensions"] == ["cxr_lib.tooling.repository"]
    assert derived["sphinx"]["config"] == {"nb_output_stderr": "remove", "cxr_repository": "someone/fork@dev"}
    assert config["html"]["use_repository_button"] is False  # the committed configuration is not changed


def test_colab_button_points_at_the_committed_notebook_or_goes(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_baseline.ipynb").write_text("{}")
    app = types.SimpleNamespace(srcdir=str(tmp_path), config=types.SimpleNamespace(cxr_repository="someone/fork@dev"))

    def context() -> dict:  # the launch group as sphinx-book-theme 1.3 builds it (header_buttons/launch.py)
        return {"header_buttons": [{"label": "download-buttons", "buttons": []},
                                   {"label": "launch-buttons", "buttons": [
                                       {"type": "link", "text": "Colab", "url": "https://colab.research.google.com/github/"
                                        "someone/fork/blob/dev/book/executed/x.ipynb"}]}]}

    page = context()
    repository._colab_button_to_committed_notebook(app, "book/executed/01_baseline", "page.html", page, None)
    assert page["header_buttons"][1]["buttons"][0]["url"] == \
        "https://colab.research.google.com/github/someone/fork/blob/dev/notebooks/01_baseline.ipynb"
    page = context()
    repository._colab_button_to_committed_notebook(app, "book/executed/04_not_committed", "page.html", page, None)
    assert [group["label"] for group in page["header_buttons"]] == ["download-buttons"]


# --------------------------------------------------------------------------- the install cell, in a fake Colab


def notebook_cells(path: Path) -> dict[str, str]:
    """A notebook's parameters cell, papermill's injected parameters (if any) and its Colab install cell."""
    cells = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    tagged = {tag: cell.source for cell in cells for tag in cell.metadata.get("tags", [])}
    install = [cell.source for cell in cells if "google.colab" in cell.source]
    assert len(install) == 1, f"{path.name} should have one Colab install cell"
    return {"parameters": tagged["parameters"], "injected": tagged.get("injected-parameters", ""), "install": install[0]}


def run_install_cell(path: Path, monkeypatch: pytest.MonkeyPatch, *, colab: bool = True,
                     overrides: str = "") -> list[list[str]]:
    """Run a notebook's parameters and install cells as Colab would; return the commands it ran."""
    commands: list[list[str]] = []
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: commands.append(list(command)))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    cells = notebook_cells(path)
    namespace: dict = {}
    for source in (cells["parameters"], cells["injected"], overrides, cells["install"]):
        exec(compile(source, f"<{path.name}>", "exec"), namespace)  # noqa: S102 - the notebook's own code
    return commands


class _Sessions(BaseHTTPRequestHandler):
    body = b"[]"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        assert self.path == "/api/sessions"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def colab_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Sessions]]:
    """Colab's runtime Jupyter server, answering ``/api/sessions`` at $COLAB_JUPYTER_IP:$KMP_TARGET_PORT."""
    handler = type("Sessions", (_Sessions,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("COLAB_JUPYTER_IP", "127.0.0.1")
    monkeypatch.setenv("KMP_TARGET_PORT", str(server.server_port))
    try:
        yield handler
    finally:
        server.shutdown()


def opened_from(handler: type[_Sessions], url: str, name: str) -> None:
    handler.body = json.dumps([{"id": "5a1c", "path": f"fileId={urllib.parse.quote(url, safe='')}", "name": name,
                                "type": "notebook", "kernel": {"id": "0d3f", "name": "python3"}}]).encode()


def pip_install(extras: set[str], spec: str) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "-q", f"cxr_lib[{','.join(sorted(extras))}] @ git+https://github.com/{spec}"]


def installed(commands: list[list[str]]) -> tuple[set[str], str]:
    """The extras and the repository a captured pip command installs."""
    assert len(commands) == 1 and commands[0][:5] == [sys.executable, "-m", "pip", "install", "-q"], commands
    found = re.fullmatch(r"cxr_lib\[([a-z,]+)\] @ git\+https://github\.com/(.+)", commands[0][5])
    assert found, commands
    return set(found[1].split(",")), found[2]


@pytest.mark.parametrize("name", book.NOTEBOOKS)
def test_colab_opened_from_a_fork_installs_that_fork(name: str, monkeypatch: pytest.MonkeyPatch, colab_runtime) -> None:
    opened_from(colab_runtime, f"https://github.com/someone/fork/blob/feature/x/notebooks/{name}.ipynb", f"{name}.ipynb")
    extras, spec = installed(run_install_cell(ROOT / "notebooks" / f"{name}.ipynb", monkeypatch))
    assert spec == "someone/fork@feature/x"
    assert extras >= NEEDED_EXTRAS[name]


def test_the_repository_parameter_wins_over_where_colab_opened_it(monkeypatch: pytest.MonkeyPatch, colab_runtime) -> None:
    opened_from(colab_runtime, "https://github.com/someone/fork/blob/main/notebooks/01_baseline.ipynb", "01_baseline.ipynb")
    commands = run_install_cell(ROOT / "notebooks" / "01_baseline.ipynb", monkeypatch, overrides='repository = "me/mine@dev"\n')
    assert installed(commands)[1] == "me/mine@dev"


def test_a_notebook_colab_did_not_open_from_github_says_to_set_repository(monkeypatch: pytest.MonkeyPatch, colab_runtime) -> None:
    opened_from(colab_runtime, "1AbCdEfGhIjK", "Copy of 01_baseline.ipynb")  # a copy in Google Drive: a file id
    with pytest.raises(SystemExit, match=r"^Colab did not open this notebook from GitHub: set repository = 'owner/name@branch'"):
        run_install_cell(ROOT / "notebooks" / "01_baseline.ipynb", monkeypatch)


def test_outside_colab_the_install_cell_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in book.NOTEBOOKS:
        assert run_install_cell(ROOT / "notebooks" / f"{name}.ipynb", monkeypatch, colab=False) == []


def test_install_extras_exist_and_the_package_takes_colabs_python_and_torch() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set().union(*NEEDED_EXTRAS.values()) <= set(project["optional-dependencies"])
    assert "bitsandbytes" in " ".join(project["optional-dependencies"]["gpu"])
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(project["requires-python"]).contains("3.12")  # Colab's Python in 2025–26 runtimes
    torch = next(Requirement(d) for d in project["dependencies"] if Requirement(d).name == "torch")
    assert all(torch.specifier.contains(v) for v in ("2.8.0", "2.9.1", "2.10.0", "2.11.0"))  # Colab's torch, kept


def test_committed_notebooks_name_no_placeholder_and_no_repository() -> None:
    for path in [*(ROOT / "notebooks").iterdir(), ROOT / "README.md", *(ROOT / "book").glob("*.md")]:
        text = path.read_text()
        assert not [p for p in PLACEHOLDERS if p in text], path
    for name in book.NOTEBOOKS:  # the repository is never committed into a notebook: it comes from where it is opened
        assert "github.com/" not in notebook_cells(ROOT / "notebooks" / f"{name}.ipynb")["install"].replace(
            "git+https://github.com/{repository}", "")


# --------------------------------------------------------------------------- the built book


def test_built_book_opens_and_installs_the_repository_it_was_built_from(offline_book: BuiltBook,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = f"{MADE_UP_REPOSITORY}@{MADE_UP_BRANCH}"
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "notebooks"], capture_output=True, text=True)
    committed = (set(listed.stdout.split()) if listed.returncode == 0  # a checkout without git: the files it has
                 else {p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").iterdir()})
    colab_links = {}
    for page in sorted(offline_book.html.rglob("*.html")):
        links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', page.read_text()))
        if links:
            colab_links[page.relative_to(offline_book.html).as_posix()] = links
    assert set(colab_links) == {f"book/executed/{name}.html" for name in book.NOTEBOOKS}
    for name in book.NOTEBOOKS:
        path = f"notebooks/{name}.ipynb"
        assert colab_links[f"book/executed/{name}.html"] == {
            f"https://colab.research.google.com/github/{MADE_UP_REPOSITORY}/blob/{MADE_UP_BRANCH}/{path}"}
        assert path in committed  # the button opens a notebook the repository has
        page = (offline_book.html / "book" / "executed" / f"{name}.html").read_text()
        assert f'href="https://github.com/{MADE_UP_REPOSITORY}"' in page  # the repository button
        # the executed notebook (and the copy the page offers for download) installs from the same place
        for executed in (offline_book.executed / f"{name}.ipynb", offline_book.html / "_sources" / "book" / "executed" / f"{name}.ipynb"):
            assert f'repository = "{spec}"' in notebook_cells(executed)["injected"]
            assert installed(run_install_cell(executed, monkeypatch))[1] == spec
    for folder in (offline_book.html, offline_book.executed):
        for path in folder.rglob("*"):
            if path.suffix in (".html", ".ipynb", ".txt", ".js", ".json", ".md"):
                text = path.read_text(errors="replace")
                assert "OWNER" not in text, path  # no placeholder of any kind reaches a reader
