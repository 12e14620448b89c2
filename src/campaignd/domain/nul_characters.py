"""The NUL character (U+0000), which PostgreSQL stores in no text column: where a document
holds one, so that input can be refused naming the place, on both databases alike."""

from __future__ import annotations

from collections.abc import Iterator

NUL = "\x00"
NUL_PROBLEM = "must not contain the NUL character (\\u0000)"


def shown(text: str) -> str:
    """``text`` with each NUL written ``\\u0000``, to name a field that holds one."""
    return text.replace(NUL, "\\u0000")


def nul_places(value: object, place: str = "") -> Iterator[str]:
    """Where NUL characters are in a parsed JSON or YAML document: ``recipients[0].vars.city``
    (a name holding one is shown with it written ``\\u0000``; the document itself is ``""``)."""
    if isinstance(value, str):
        if NUL in value:
            yield place
    elif isinstance(value, dict):
        for key, child in value.items():
            name = shown(key) if isinstance(key, str) else str(key)
            inner = f"{place}.{name}" if place else name
            if isinstance(key, str) and NUL in key:
                yield inner
            else:
                yield from nul_places(child, inner)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from nul_places(child, f"{place}[{index}]")


def nul_place(value: object) -> str | None:
    """The first place ``nul_places`` finds, or None."""
    return next(nul_places(value), None)
