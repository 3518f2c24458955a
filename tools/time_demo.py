"""Time what a newcomer runs first, in a fresh clone: ``make install``, then ``make demo`` cold and warm.

``python tools/time_demo.py measure --out book/demo_timings.json`` clones the checkout's committed HEAD
(``--commit`` for another) into a temporary folder, runs ``make install`` there (timed), ``make demo`` into
an empty results folder (cold) and ``make demo`` again with nothing changed (warm), each with its wall time,
and keeps what ``cxr book`` wrote about each step (``results/offline/timings.json``: every notebook's wall and
CPU seconds, the stand-ins, the book). ``--tests`` also times ``make test`` there. ``--cpus 2`` runs it all on
two processors of a larger machine. The demo's output is searched for warnings (deprecations, the kernel's
transport warning, progress-bar fragments): the count goes in the file, and they are printed.

``--venv PATH`` uses an environment that already exists instead of ``make install`` (not timed then: the
clone gets a ``.venv`` link to it, ``make`` is told not to reinstall, and the clone is put first on
``PYTHONPATH``, so its package is the one that runs).

``python tools/time_demo.py table book/demo_timings.json > book/demo_timings.md`` writes the Markdown table
the Performance page includes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cxr_lib.tooling.bench.measure import cpu_name, load_average

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_baseline", "02_super_resolution", "03_prompting")
#: What a first run must not print: deprecation and transport warnings, a progress bar's cursor movement.
NOISE = re.compile(r"\w*Warning\b|deprecat|without encryption|\x1b\[", re.IGNORECASE)


def timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
    """Run ``command`` in ``cwd`` with its output in ``log``; its wall time, exit status and warnings."""
    started, load = time.perf_counter(), [round(x, 2) for x in load_average() or []]
    with log.open("w") as out:
        status = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - started
    text = log.read_text(errors="replace")
    noise = sorted({match.group(0) for match in NOISE.finditer(text)})
    for line in (line for line in text.splitlines() if NOISE.search(line)):
        print(f"  {log.name}: {line[:200]}", file=sys.stderr)
    if status:
        print(text[-3000:], file=sys.stderr)
    return {"command": " ".join(command), "seconds": round(seconds, 1), "status": status,
            "load_average_before": load, "load_average_after": [round(x, 2) for x in load_average() or []], "warnings": noise}


def measure(args: argparse.Namespace) -> dict:
    if args.cpus:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])  # the children inherit it
    workdir = Path(tempfile.mkdtemp(prefix="cxr-time-demo-"))
    clone = workdir / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", args.commit], cwd=clone, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    make = ["make"]
    run: dict = {"commit": commit, "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if args.venv:
        (clone / ".venv").symlink_to(Path(args.venv).resolve())
        env["PYTHONPATH"] = str(clone)
        make += ["-o", ".venv/.installed"]  # the environment exists: never reinstall it from here
        run["install"] = {"skipped": "an existing environment was used (--venv)"}
    else:
        run["install"] = timed(make + ["install"], clone, env, workdir / "install.log")
    run["demo_cold"] = timed(make + ["demo"], clone, env, workdir / "demo_cold.log")
    run["demo_cold"]["runner"] = json.loads((clone / "results" / "offline" / "timings.json").read_text())
    run["demo_warm"] = timed(make + ["demo"], clone, env, workdir / "demo_warm.log")
    run["demo_warm"]["runner"] = json.loads((clone / "results" / "offline" / "timings.json").read_text())
    if args.tests:
        run["test"] = timed(make + ["test"], clone, env, workdir / "test.log")
    run["machine"] = {"processor": cpu_name(), "processors_used": len(os.sched_getaffinity(0)),
                      "processors": os.cpu_count()}
    print(f"logs and the clone: {workdir}", file=sys.stderr)
    return run


def minutes(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{seconds:.1f} s"


def step_time(name: str, step: dict) -> str:
    """One step's wall time, with its CPU time where it ran alone."""
    cpu = step.get("cpu_seconds")
    return f"{name} {step['seconds']:.0f} s" + (f" ({cpu:.0f} s CPU)" if cpu is not None else "")


def table(run: dict) -> str:
    """The Performance page's Markdown: one row per command, the cold demo's steps beside it."""
    cold, warm = run["demo_cold"], run["demo_warm"]
    steps = cold["runner"]["steps"]
    rows = ["| run | wall time | what it did |", "|---|---|---|"]
    install = run["install"]
    rows.append("| `make install` | " + (f"{minutes(install['seconds'])} |" if "seconds" in install else "not timed |")
                + " a virtual environment with the pinned requirements and the package |")
    at_once = cold["runner"].get("notebooks_at_once", 1)
    rows.append(f"| `make demo`, cold | {minutes(cold['seconds'])} | the offline profile in "
                f"{minutes(cold['runner']['seconds'])} ({cold['runner']['cpu_seconds']:.0f} s CPU"
                + (f"; notebooks {at_once} at a time, each one's wall time" if at_once > 1 else "") + "): "
                + "; ".join(step_time(name, steps[name]) for name in ("stand_ins", *NOTEBOOKS, "book") if name in steps) + " |")
    rows.append(f"| `make demo` again, nothing changed | {minutes(warm['seconds'])} | the offline profile in "
                f"{warm['runner']['seconds']:.1f} s: every notebook up to date, the book not rebuilt |")
    if "test" in run:
        rows.append(f"| `make test` | {minutes(run['test']['seconds'])} | the whole suite |")
    loads = [cold["load_average_before"][0], warm["load_average_after"][0]]
    machine = run["machine"]
    warnings = sorted({w for step in (cold, warm) for w in step["warnings"]})
    notes = (f"\nMeasured {run['started'][:16].replace('T', ' ')} UTC on commit `{run['commit'][:10]}`, in a fresh clone, "
             f"{machine['processors_used']} of {machine['processors']} processors ({machine['processor'] or 'unknown'}); "
             f"load average {loads[0]} before the cold demo and {loads[1]} after the warm one "
             f"(`tools/time_demo.py`, file `book/demo_timings.json`). Warnings in the demo's output: "
             f"{', '.join(f'`{w}`' for w in warnings) if warnings else 'none'}.\n")
    return "\n".join(rows) + "\n" + notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("measure", help="clone, install, run the demo cold and warm; write the timings as JSON")
    run.add_argument("--out", required=True, help="the JSON file to write")
    run.add_argument("--commit", default="HEAD", help="what to clone (default: the committed HEAD)")
    run.add_argument("--venv", help="an existing environment to use instead of `make install`")
    run.add_argument("--cpus", type=int, help="run on this many processors only")
    run.add_argument("--tests", action="store_true", help="also time `make test`")
    show = sub.add_parser("table", help="print the Markdown table of a timings file")
    show.add_argument("file")
    args = parser.parse_args()
    if args.action == "measure":
        result = measure(args)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(table(result))
    else:
        print(table(json.loads(Path(args.file).read_text())), end="")


if __name__ == "__main__":
    main()
