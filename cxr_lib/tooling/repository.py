"""The GitHub repository a book is built from, and the Colab links to its committed notebooks.

It is set in one place, read in this order: ``$CXR_REPOSITORY`` (``OWNER/NAME`` or
``OWNER/NAME@BRANCH``); in GitHub Actions ``$GITHUB_REPOSITORY`` at the branch being built, so a
fork's own workflows name the fork; else the checkout's ``origin`` remote when it is on GitHub
(branch ``main``). ``cxr book`` passes it to every notebook as its ``repository`` parameter (the
Colab install cell installs the package from there) and to the book: a repository button, and a
Colab launch button on each notebook page.

Jupyter Book forms a launch link from the page's own path, ``book/executed/<name>.ipynb``, which is
a build output and never committed. :func:`setup` is a small Sphinx extension that points each
Colab button at the committed notebook of the same name, ``notebooks/<name>.ipynb``, and removes
the button from a page that has none.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from cxr_lib.errors import ParameterError

REPOSITORY_ENV = "CXR_REPOSITORY"
DEFAULT_BRANCH = "main"
COLAB = "https://colab.research.google.com"
#: Where the committed notebooks live in the repository.
NOTEBOOKS_DIR = "notebooks"
#: The Sphinx configuration value :func:`setup` reads (``OWNER/NAME@BRANCH``).
SPHINX_SETTING = "cxr_repository"

_SLUG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_BRANCH = re.compile(r"[A-Za-z0-9._/-]{1,200}")
_GITHUB_REMOTE = re.compile(r"^(?:https://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
                            r"(?P<slug>[^/]+/[^/]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class SourceRepository:
    """A GitHub repository and branch: where the book's notebooks and the package are fetched from."""

    slug: str  # OWNER/NAME
    branch: str = DEFAULT_BRANCH

    @classmethod
    def parse(cls, text: str, setting: str = REPOSITORY_ENV) -> "SourceRepository":
        """``OWNER/NAME`` or ``OWNER/NAME@BRANCH``; :class:`ParameterError` naming ``setting`` otherwise."""
        slug, at, branch = text.strip().partition("@")
        if not _SLUG.fullmatch(slug) or (at and not _BRANCH.fullmatch(branch)) or ".." in branch:
            raise ParameterError(f"{setting}={text!r} is not a GitHub repository: use OWNER/NAME or OWNER/NAME@BRANCH")
        return cls(slug, branch or DEFAULT_BRANCH)

    @property
    def spec(self) -> str:
        """``OWNER/NAME@BRANCH``: the notebooks' ``repository`` parameter, and pip's ``git+https`` form."""
        return f"{self.slug}@{self.branch}"

    @property
    def url(self) -> str:
        return f"https://github.com/{self.slug}"

    def colab_url(self, path: str) -> str:
        """Colab's link that opens the file at ``path`` (relative to the repository root) on this branch."""
        return f"{COLAB}/github/{self.slug}/blob/{self.branch}/{path}"


def source_repository(root: str | os.PathLike = ".", environ: Mapping[str, str] | None = None) -> SourceRepository | None:
    """The repository the project at ``root`` is published from (see the module's docstring), or
    None when nothing names one (no setting, not in GitHub Actions, no GitHub remote)."""
    environ = os.environ if environ is None else environ
    setting = environ.get(REPOSITORY_ENV, "").strip()
    if setting:
        return SourceRepository.parse(setting)
    github = environ.get("GITHUB_REPOSITORY", "").strip()
    if github:
        return SourceRepository.parse(f"{github}@{actions_branch(environ)}", "GITHUB_REPOSITORY")
    remote = _origin_url(Path(root))
    found = _GITHUB_REMOTE.match(remote or "")
    return SourceRepository.parse(found["slug"], "git remote origin") if found else None


def actions_branch(environ: Mapping[str, str]) -> str:
    """The branch a GitHub Actions run builds: ``GITHUB_REF_NAME``, except for a pull request (its
    ref, ``N/merge``, is no branch anyone can open), where it is the branch it targets."""
    if environ.get("GITHUB_REF", "").startswith("refs/pull/"):
        return environ.get("GITHUB_BASE_REF") or DEFAULT_BRANCH
    return environ.get("GITHUB_REF_NAME") or DEFAULT_BRANCH


def _origin_url(root: Path) -> str | None:
    try:
        found = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() if found.returncode == 0 else None


def with_repository(config: dict[str, Any], repository: SourceRepository | None) -> dict[str, Any]:
    """A Jupyter Book configuration with ``repository``'s button and Colab launch buttons (through
    :func:`setup`); unchanged without a repository (then the book has no launch buttons)."""
    if repository is None:
        return config
    config = dict(config)
    config["repository"] = {"url": repository.url, "branch": repository.branch, "path_to_book": ""}
    config["html"] = {**config.get("html", {}), "use_repository_button": True}
    config["launch_buttons"] = {**config.get("launch_buttons", {}), "colab_url": COLAB}
    sphinx = dict(config.get("sphinx", {}))
    sphinx["extra_extensions"] = [*sphinx.get("extra_extensions", []), __name__]
    sphinx["config"] = {**sphinx.get("config", {}), SPHINX_SETTING: repository.spec}
    config["sphinx"] = sphinx
    return config


def committed_notebook(pagename: str) -> str:
    """The committed notebook a book page was executed from (``book/executed/01_baseline`` →
    ``notebooks/01_baseline.ipynb``)."""
    return f"{NOTEBOOKS_DIR}/{PurePosixPath(pagename).name}.ipynb"


def setup(app: Any) -> dict[str, Any]:
    """Sphinx extension: the Colab launch button of each page opens its committed notebook."""
    app.add_config_value(SPHINX_SETTING, "", "html")
    # sphinx-book-theme adds its launch buttons at priority 501; this runs after it
    app.connect("html-page-context", _colab_button_to_committed_notebook, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _colab_button_to_committed_notebook(app: Any, pagename: str, templatename: str, context: dict[str, Any],
                                        doctree: Any) -> None:
    setting = getattr(app.config, SPHINX_SETTING, "")
    if not setting:
        return
    repository = SourceRepository.parse(setting, SPHINX_SETTING)
    notebook = committed_notebook(pagename)
    exists = (Path(app.srcdir) / notebook).is_file()
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        buttons = [button for button in group["buttons"] if exists or button.get("text") != "Colab"]
        for button in buttons:
            if button.get("text") == "Colab":
                button["url"] = repository.colab_url(notebook)
        group["buttons"] = buttons
    context["header_buttons"] = [group for group in context.get("header_buttons", [])
                                 if group.get("label") != "launch-buttons" or group["buttons"]]
