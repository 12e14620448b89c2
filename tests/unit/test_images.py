"""Images are judged by their bytes: kind and size from the header, anything else refused."""

from __future__ import annotations

import pytest

from campaignd.domain.images import MAX_SIDE, ImageProblem, image_kind
from tests.integration.image_samples import GIF, JPEG, SVG, WEBP, png


@pytest.mark.parametrize(
    ("data", "kind", "size"),
    [
        (png(3, 2), "image/png", (3, 2)),
        (GIF, "image/gif", (1, 1)),
        (JPEG, "image/jpeg", (2, 2)),
        (WEBP, "image/webp", (2, 2)),
    ],
    ids=["png", "gif", "jpeg", "webp"],
)
def test_each_accepted_kind_is_recognised_with_its_size(
    data: bytes, kind: str, size: tuple[int, int]
) -> None:
    found = image_kind(data)
    assert (found.media_type, found.width, found.height) == (kind, *size)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello, this is text", "not a PNG, JPEG, GIF or WebP image"),
        (b"%PDF-1.7\n", "not a PNG, JPEG, GIF or WebP image"),
        (SVG, "SVG images are not accepted"),
        (b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (png()[:20], "PNG image but its header is damaged"),
        (JPEG[:30], "JPEG image but its header is damaged"),
        (b"GIF89a\x01", "GIF image but its header is damaged"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8Z", "WebP image but its header is damaged"),
        (png(0, 5), "each side must be 1 to"),
        (png(1, 1)[:16] + (MAX_SIDE + 1).to_bytes(4, "big") + b"\x00\x00\x00\x01", "each side"),
    ],
)
def test_anything_else_is_refused_saying_why(data: bytes, words: str) -> None:
    with pytest.raises(ImageProblem, match=words):
        image_kind(data)
