#!/usr/bin/env python3
"""Writes the small test images in this folder with a stdlib-only PNG writer (zlib + struct).

  flat_64.png          64x64, one grey: a quadtree keeps it as a single tile
  corner_64.png        64x64 grey with a 16x16 checkerboard in the top-left corner
  truncated.png        corner_64.png cut in the middle of its image data
  not_an_image.png     a text file with a .png name
  huge_gray_20000.png  a valid grey header declaring 20000x20000 (4e8 pixels) and no real data
  huge_rgb_100000.png  a valid RGB header declaring 100000x100000 and no real data

Run it from anywhere: python3 tests/data/make_images.py
"""
import pathlib
import struct
import zlib

HERE = pathlib.Path(__file__).resolve().parent


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int, height: int, rows: list[bytes], colour_type: int = 2) -> bytes:
    """colour_type 2 = RGB8, 0 = grey8; each row is given without its filter byte."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) +
            chunk(b"IEND", b""))


def header_only_png(width: int, height: int, colour_type: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) +
            chunk(b"IEND", b""))


def rgb_rows(width: int, height: int, pixel) -> list[bytes]:
    return [b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)]


def main() -> None:
    grey = (128, 128, 128)
    flat = png(64, 64, rgb_rows(64, 64, lambda x, y: grey))

    def corner_pixel(x: int, y: int):
        if x < 16 and y < 16:
            return (255, 255, 255) if (x // 2 + y // 2) % 2 else (0, 0, 0)
        return grey

    corner = png(64, 64, rgb_rows(64, 64, corner_pixel))

    (HERE / "flat_64.png").write_bytes(flat)
    (HERE / "corner_64.png").write_bytes(corner)
    (HERE / "truncated.png").write_bytes(corner[: len(corner) // 2])
    (HERE / "not_an_image.png").write_bytes(b"this is a text file, not a PNG\n")
    (HERE / "huge_gray_20000.png").write_bytes(header_only_png(20000, 20000, 0))
    (HERE / "huge_rgb_100000.png").write_bytes(header_only_png(100000, 100000, 2))


if __name__ == "__main__":
    main()
