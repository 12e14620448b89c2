"""Quoted-printable line by line, with the lines seen before kept: the same bytes as the
whole body encoded at once, whatever the text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from campaignd.delivery.encoding import LINES_KEPT, QuotedPrintable, quoted_printable

# what moves quoted-printable: line ends of every kind, trailing white space, "=", a lone
# period, tabs, non-ASCII, and lines long enough to be broken softly
PIECES = st.sampled_from(
    ["a", "=", ".", " ", "\t", "\n", "\r\n", "\r", "é", "東", "\x00", "x" * 80, "From "]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join)


@settings(max_examples=1000, derandomize=True, deadline=None)
@given(st.lists(TEXTS, min_size=1, max_size=6))
def test_the_bytes_are_those_of_the_whole_text_encoded_at_once(texts: list[str]) -> None:
    encode = QuotedPrintable()
    for text in texts + texts:  # the second time from the lines kept
        assert encode(text) == quoted_printable(text)


def test_lines_are_kept_up_to_the_limit_and_still_encoded_beyond_it() -> None:
    encode = QuotedPrintable()
    text = "\n".join(f"line {number} = {number}" for number in range(LINES_KEPT + 50))
    assert encode(text) == quoted_printable(text)
    assert encode(text) == quoted_printable(text)
    assert len(encode._encoded) == LINES_KEPT
    assert encode("") == quoted_printable("") == b"\r\n"
