"""Text from sources, made safe to show: no control characters, the words kept."""

from __future__ import annotations

from monitor.textsafe import one_line, printable


def test_control_characters_and_bidi_overrides_are_removed():
    hostile = "Title\x00 with\x07 bell,\x1b[31m escape,\x7f del,\x85 next line and \u202eoverride\u202c"
    assert one_line(hostile) == "Title with bell,[31m escape, del, next line and override"


def test_line_breaks_fold_into_one_line_or_stay_as_newlines():
    text = "first\r\nsecond\rthird\u2028fourth\tfifth"
    assert one_line(text) == "first second third fourth fifth"
    assert printable(text) == "first\nsecond\nthird\nfourth\tfifth"


def test_ordinary_text_is_untouched():
    text = "Zürich – “quoted” 10.1016/j.drup.2021.100752 👩‍🔬"
    assert one_line(text) == text and printable(text) == text
