"""Raster images through Pillow: proving an upload decodes, and re-encoded previews without metadata.

Called in a worker thread; every limit here is about pixels, not bytes, because a
small file can declare a huge canvas (a decompression bomb).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps

# 50 megapixels: more than any phone photo, and a bounded amount of memory to decode.
MAX_PIXELS = 50_000_000
THUMB_SIZE = 320


class BadImage(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _open(path: Path, fmt: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path, formats=[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise BadImage("too_large", "the image has too many pixels") from None
        except Exception:
            raise BadImage("unsupported_type", "the image is damaged or not what it claims") from None
    if image.width * image.height > MAX_PIXELS or image.width * image.height == 0:
        image.close()
        raise BadImage("too_large", f"the image has too many pixels (at most {MAX_PIXELS:,})")
    return image


def check(path: Path, fmt: str) -> None:
    """The file opens as `fmt`, has a sane canvas and passes Pillow's own integrity check."""
    image = _open(path, fmt)
    try:
        image.verify()
    except Exception:
        raise BadImage("unsupported_type", "the image is damaged") from None
    finally:
        image.close()


def thumbnail(path: Path, fmt: str, dest: Path) -> None:
    """A preview at most THUMB_SIZE on each side, turned upright, re-encoded without
    EXIF, ICC or comments: JPEG, or PNG when the image has transparency."""
    with _open(path, fmt) as image:
        image.draft("RGB", (THUMB_SIZE * 2, THUMB_SIZE * 2))  # JPEG decodes at a reduced scale
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception:  # a broken orientation tag must not cost the preview
            upright = image
        try:
            upright.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        except Exception:
            raise BadImage("unsupported_type", "the image is damaged") from None
        alpha = upright.mode in ("RGBA", "LA", "PA") or (
            upright.mode == "P" and "transparency" in upright.info)
        pixels = upright.convert("RGBA" if alpha else "RGB")
    clean = Image.new(pixels.mode, pixels.size)  # a new image carries no metadata at all
    clean.paste(pixels)
    if alpha:
        clean.save(dest, "PNG", optimize=True)
    else:
        clean.save(dest, "JPEG", quality=82, optimize=True)


def thumbnail_mime(head: bytes) -> str:
    return "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"
