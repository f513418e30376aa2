"""citation-monitor: watch the citations and impact of scholarly articles.

The flow, one module each: ``config`` → ``sources`` (one module per API, over
``fetching``) → ``collect`` → ``store`` → ``report``; ``cli`` is a thin shell
around them.
"""

__version__ = "0.1.0"
