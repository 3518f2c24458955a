"""The ``cxr`` command: argument parsing and printing only; the work is done in the modules.

Expected failures (:class:`cxr_lib.errors.CxrError`) print one line to stderr and exit 2.
Each command group has an ``_add_<group>`` function (its arguments) and a ``_run_<group>``
function (its handler).
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from cxr_lib.errors import CxrError

Handler = Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- data
def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="describe the PneumoniaMNIST splits and the high-resolution reference")
    p.add_argument("--data-dir", help="folder holding pneumoniamnist.npz (default: $CXR_DATA_DIR, then ~/.medmnist)")
    p.add_argument("--download", action="store_true", help="download the official files when missing")
    p.set_defaults(handler=_run_data)


def _run_data(args: argparse.Namespace) -> int:
    from cxr_lib.data import data_summary

    print("\n".join(data_summary(args.data_dir, args.download)))
    return 0


# --------------------------------------------------------------------------- parser and entry point
COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [_add_data]


def build_parser() -> argparse.ArgumentParser:
    """The ``cxr`` argument parser with every command group."""
    parser = argparse.ArgumentParser(prog="cxr", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMAND_GROUPS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cxr`` command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CxrError as exc:
        print(f"cxr: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cxr: interrupted; results written so far are kept and a rerun resumes from them", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
