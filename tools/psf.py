#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/psf.py FONT OUT.c: the printable ASCII glyphs (0x20..0x7e) of an 8x16
PC Screen Font (PSF1 or PSF2, optionally gzipped) as the C array font8x16
(arch/x86/font.h). No font is kept in git: the Makefile fetches one from
Debian's archive (tools/font) and runs this at build time.

A font whose glyphs are in an order other than ASCII's says so in its Unicode
table (console-setup's fonts all do): each glyph lists the code points it
draws, and this follows the table. A font without one is taken as indexed by
code point. tools/screen-text imports load() to read the screen back
with the same glyphs.
"""
import gzip
import os
import struct
import sys

FIRST, LAST = 0x20, 0x7e
WIDTH, HEIGHT = 8, 16

PSF1_MAGIC = b"\x36\x04"
PSF1_MODE512 = 0x01
PSF1_MODEHASTAB = 0x02
PSF1_MODESEQ = 0x04
PSF1_SEPARATOR = 0xFFFF
PSF1_STARTSEQ = 0xFFFE

PSF2_MAGIC = 0x864AB572  # the bytes 72 b5 4a 86, little-endian
PSF2_HAS_UNICODE_TABLE = 0x01
PSF2_SEPARATOR = 0xFF
PSF2_STARTSEQ = 0xFE


class FontError(Exception):
    pass


def _need(data, end, what):
    if end > len(data):
        raise FontError(f"it ends at byte {len(data)}, inside its {what} (up to byte {end})")


def _psf1(data):
    """(glyph bytes, glyph count, per-glyph code points or None)."""
    _need(data, 4, "4-byte PSF1 header")
    mode, height = data[2], data[3]
    if height != HEIGHT:
        raise FontError(f"a PSF1 font 8 pixels wide and {height} high; "
                        f"mmuvisor's console draws {WIDTH}x{HEIGHT} glyphs")
    count = 512 if mode & PSF1_MODE512 else 256
    end = 4 + count * height
    _need(data, end, f"{count} glyphs")
    glyphs = [data[4 + i * height:4 + (i + 1) * height] for i in range(count)]
    if not mode & (PSF1_MODEHASTAB | PSF1_MODESEQ):
        return glyphs, None
    table, at = [], end
    for i in range(count):
        points, in_seq = [], False
        while True:
            _need(data, at + 2, f"Unicode table (glyph {i})")
            (u,) = struct.unpack_from("<H", data, at)
            at += 2
            if u == PSF1_SEPARATOR:
                break
            if u == PSF1_STARTSEQ:
                in_seq = True  # a sequence of combining characters: not one code point
            elif not in_seq:
                points.append(u)
        table.append(points)
    return glyphs, table


def _utf8_points(raw):
    """The code points of one glyph's entry: UTF-8, then sequences after 0xFE."""
    single = raw.split(bytes([PSF2_STARTSEQ]))[0]
    try:
        return [ord(c) for c in single.decode("utf-8")]
    except UnicodeDecodeError as e:
        raise FontError(f"its Unicode table holds bad UTF-8 ({e.reason})") from None


def _psf2(data):
    _need(data, 32, "32-byte PSF2 header")
    _, version, headersize, flags, count, charsize, height, width = struct.unpack_from(
        "<8I", data, 0)
    if width != WIDTH or height != HEIGHT:
        raise FontError(f"a PSF2 font {width} pixels wide and {height} high; "
                        f"mmuvisor's console draws {WIDTH}x{HEIGHT} glyphs")
    if charsize != HEIGHT * ((WIDTH + 7) // 8):
        raise FontError(f"its glyphs are {charsize} bytes; {WIDTH}x{HEIGHT} ones are "
                        f"{HEIGHT * ((WIDTH + 7) // 8)}")
    if headersize < 32 or count == 0 or count > 0x110000:
        raise FontError(f"its header says headersize {headersize} and {count} glyphs (version {version})")
    end = headersize + count * charsize
    _need(data, end, f"{count} glyphs")
    glyphs = [data[headersize + i * charsize:headersize + (i + 1) * charsize] for i in range(count)]
    if not flags & PSF2_HAS_UNICODE_TABLE:
        return glyphs, None
    table, at = [], end
    for i in range(count):
        stop = data.find(bytes([PSF2_SEPARATOR]), at)
        if stop < 0:
            raise FontError(f"its Unicode table ends inside glyph {i}'s entry")
        table.append(_utf8_points(data[at:stop]))
        at = stop + 1
    return glyphs, table


def load(path):
    """{code point: 16 row bytes} for 0x20..0x7e; raises FontError."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise FontError(f"it does not gunzip ({e})") from None
    if data[:2] == PSF1_MAGIC:
        glyphs, table = _psf1(data)
    elif len(data) >= 4 and struct.unpack_from("<I", data, 0)[0] == PSF2_MAGIC:
        glyphs, table = _psf2(data)
    else:
        raise FontError("it starts with neither the PSF1 magic 36 04 nor the PSF2 magic 72 b5 4a 86")
    font = {}
    if table is None:
        for cp in range(FIRST, LAST + 1):
            if cp < len(glyphs):
                font[cp] = glyphs[cp]
    else:
        for i, points in enumerate(table):
            for cp in points:
                if FIRST <= cp <= LAST and cp not in font:
                    font[cp] = glyphs[i]
    missing = [cp for cp in range(FIRST, LAST + 1) if cp not in font]
    if missing:
        shown = " ".join(f"{cp:#04x}" for cp in missing[:8])
        raise FontError(f"it has no glyph for {len(missing)} printable ASCII characters ({shown} ...)")
    return font


def c_source(font, origin):
    out = [
        "// SPDX-License-Identifier: MIT",
        f"// Generated by tools/psf.py from {origin}: do not edit, do not commit.",
        '#include "arch/x86/font.h"',
        "",
        "const uint8_t font8x16[FONT_GLYPHS][FONT_HEIGHT] = {",
    ]
    for cp in range(FIRST, LAST + 1):
        rows = ", ".join(f"0x{b:02x}" for b in font[cp])
        shown = "backslash" if cp == 0x5c else f"'{chr(cp)}'"
        out.append(f"\t{{ {rows} }}, /* {shown} */")
    out.append("};")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: tools/psf.py FONT.psf[.gz] OUT.c")
    path, dest = argv[1], argv[2]
    try:
        font = load(path)
    except FontError as e:
        sys.exit(f"tools/psf.py: {path}: {e}")
    except OSError as e:
        sys.exit(f"tools/psf.py: {path}: cannot read it ({e.strerror})")
    with open(dest + ".tmp", "w") as f:
        f.write(c_source(font, path.rsplit("/", 1)[-1]))
    os.replace(dest + ".tmp", dest)


if __name__ == "__main__":
    main(sys.argv)
