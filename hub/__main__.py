"""``python -m hub``: the same as the ``synchub`` command."""

from hub.cli.main import main

raise SystemExit(main())
