"""What an uploaded image is, judged by its bytes only (never by its name or declared type).

PNG, JPEG, GIF and WebP are recognised by their signatures, and their headers are read far
enough to find the width and height: a file that starts like an image but whose header
does not hold (a truncated or made-up file) is refused too. SVG is refused on purpose: it
is XML that can carry scripts and links, and mail clients mostly do not show it.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

MAX_SIDE = 20_000
"""Pixels a side may have at most (a bigger "image" is a decompression bomb, not a picture)."""

EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
MEDIA_TYPES = {extension: kind for kind, extension in EXTENSIONS.items()}
ACCEPTED = "PNG, JPEG, GIF or WebP"


class ImageProblem(ValueError):
    """The bytes are not an image campaignd accepts; the message says why."""


@dataclass(frozen=True)
class ImageKind:
    media_type: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.media_type]


def content_hash(data: bytes) -> str:
    """The image's name on disk and in its URL: the SHA-256 of its bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def image_kind(data: bytes) -> ImageKind:
    """The kind and size of the image in ``data``; ImageProblem when it is not one."""
    if not data:
        raise ImageProblem("the file is empty")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        width, height = _png(data)
        kind = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        width, height = _jpeg(data)
        kind = "image/jpeg"
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = _gif(data)
        kind = "image/gif"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        width, height = _webp(data)
        kind = "image/webp"
    elif _looks_like_svg(data):
        raise ImageProblem(f"SVG images are not accepted (they can carry scripts); use {ACCEPTED}")
    else:
        raise ImageProblem(f"the file is not a {ACCEPTED} image (judged by its content)")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ImageProblem(
            f"the image is {width} by {height} pixels; each side must be 1 to {MAX_SIDE}"
        )
    return ImageKind(kind, width, height)


def _broken(kind: str) -> ImageProblem:
    return ImageProblem(f"the file starts like a {kind} image but its header is damaged")


def _png(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _broken("PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _gif(data: bytes) -> tuple[int, int]:
    if len(data) < 10:
        raise _broken("GIF")
    width, height = struct.unpack("<HH", data[6:10])
    return int(width), int(height)


START_OF_FRAME = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length


def _jpeg(data: bytes) -> tuple[int, int]:
    """Walk the segments to the first start-of-frame, which holds height and width."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            break
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in STANDALONE:
            position += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if length < 2:
            break
        if marker in START_OF_FRAME:
            if position + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return int(width), int(height)
        position += 2 + length
    raise _broken("JPEG")


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    raise _broken("WebP")


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) and b"<svg" in data[:4096].lower()
