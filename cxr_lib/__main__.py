"""``python -m cxr_lib`` is the ``cxr`` command."""

from cxr_lib.cli import main

raise SystemExit(main())
