"""citation-monitor: watch the citations and impact of scholarly articles.

The flow, one module each: ``config`` → ``sources`` (one module per API, over
``fetching``) → ``collect`` → ``store`` → ``report``; ``cli`` is a thin shell
around them.
"""

import sys as _sys

__version__ = "0.1.0"

if "sqlite_utils" not in _sys.modules and "numpy" not in _sys.modules:
    # sqlite-utils imports numpy whenever it is installed (it is: matplotlib's, for the
    # digest's chart) to map numpy column types, which we never store: 11 MB in every
    # process that opens the database, a run's writer process included. So it is imported
    # with numpy hidden; numpy itself is imported as usual by what needs it.
    _sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del _sys.modules["numpy"]
