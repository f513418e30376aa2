"""Text from sources made safe to show: control characters out, the stored value untouched.

A title or a context snippet comes from a source as it was sent, control characters
and all; the database keeps it exactly. What goes into an email (and any other output)
passes through here first: C0 and C1 control characters are removed (a tab or a line
break becomes a space where the text is one line), and so are the bidirectional
overrides that can make text read differently from what it is.
"""

from __future__ import annotations

import re

# C0 (but tab, line feed and carriage return), DEL and C1; the bidi embeddings, overrides and
# isolates; and what XML forbids besides (U+FFFE, U+FFFF, lone surrogates from a JSON "\ud800").
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]")
_BREAKS = re.compile("[\t\r\n\u2028\u2029]+")


def printable(text: str) -> str:
    """``text`` without control characters; its line breaks kept as ``\\n``."""
    text = _CONTROLS.sub("", text)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")


def one_line(text: str) -> str:
    """``text`` as one line: no control characters, every run of white space one space."""
    return " ".join(_BREAKS.sub(" ", _CONTROLS.sub("", text)).split())
