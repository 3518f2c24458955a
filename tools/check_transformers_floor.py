"""Run the VLM tests against the oldest transformers that pyproject.toml allows.

``make check-transformers-floor`` (or ``python tools/check_transformers_floor.py [VERSION]``) installs
that transformers, with the ``tokenizers`` and ``huggingface_hub`` versions it asks for, into
``.venv/transformers-floor/VERSION`` (nothing else: torch and the rest come from the project's
environment), puts it first on ``PYTHONPATH`` and runs the tests of loading, generation, thoughts,
prefix reuse and the stand-ins there. The version defaults to the floor in pyproject.toml.

Why 4.56: ``from_pretrained(..., dtype=...)`` (this project's spelling) arrived in 4.56 — 4.55
passes ``dtype`` on to the model's constructor, which refuses it; and MedGemma's
``generation_config`` names ``cache_implementation="hybrid"``, which 4.55 turns into a cache of its
own and then refuses next to the ``past_key_values`` that prefix reuse passes ("Passing both
`cache_implementation` … and `past_key_values` … is unsupported"); 4.56 ignores the hub's
``"hybrid"`` default.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_vlm.py", "tests/test_thoughts.py", "tests/test_stand_ins.py"]


def floor_in_pyproject() -> str:
    """The ``transformers>=X`` lower bound in pyproject.toml."""
    match = re.search(r'"transformers>=([0-9.]+)', (ROOT / "pyproject.toml").read_text())
    if match is None:
        raise SystemExit("pyproject.toml names no transformers>=X bound")
    return match.group(1)


def pip(target: Path, *requirements: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), *requirements]
    subprocess.run(command, check=True)


def install(version: str) -> Path:
    """``.venv/transformers-floor/VERSION`` with that transformers and the tokenizers / hub it requires."""
    target = ROOT / ".venv" / "transformers-floor" / version
    if (target / ".complete").is_file():
        return target
    pip(target, f"transformers=={version}")
    table = (target / "transformers" / "dependency_versions_table.py").read_text()
    wanted = [re.search(rf'"{name}": "([^"]+)"', table).group(1) for name in ("tokenizers", "huggingface-hub")]
    pip(target, *wanted)
    (target / ".complete").write_text(" ".join([f"transformers=={version}", *wanted]) + "\n")
    return target


def main(argv: list[str]) -> int:
    version = argv[0] if argv else floor_in_pyproject()
    target = install(version)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}
    found = subprocess.run([sys.executable, "-c", "import transformers; print(transformers.__version__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if Version(found) != Version(version):
        raise SystemExit(f"expected transformers {version} on the path, found {found}")
    print(f"transformers {found} from {target}", flush=True)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT,
                          env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
