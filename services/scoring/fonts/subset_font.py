"""Make the reports' Chinese font: Noto Sans CJK SC Regular cut to GB2312 (all 6,763 hanzi and its symbols)
plus Latin, with its outlines converted to TrueType — ReportLab embeds only TrueType-outline fonts, and
does so as subsets, so each PDF carries just the glyphs it uses.

Run by hand when the font is to be rebuilt (not at install or run time)::

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb noto
    python -m services.scoring.fonts.subset_font noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc \\
        services/scoring/fonts/HotlineSansSC-Regular.ttf

The result is named "Hotline Sans SC" (a Modified Version under the SIL OFL 1.1 takes a name of its own;
see ``README.md`` beside this file). Deterministic: the same source gives the same bytes.
"""

from __future__ import annotations

import sys

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable

SOURCE_FAMILY = "Noto Sans CJK SC"
FAMILY = "Hotline Sans SC"
POSTSCRIPT_NAME = "HotlineSansSC-Regular"
# Latin-1, general punctuation and the few symbols the reports print beside the whole of GB2312.
EXTRA = "".join(chr(c) for c in range(0x20, 0x7F)) + "".join(chr(c) for c in range(0xA0, 0x180)) + "–—‘’“”…•‰′″€≈"
MAX_ERROR = 1.0  # font units (of 1000 per em) a quadratic outline may stray from the cubic one


def gb2312() -> set[str]:
    """Every character of GB2312: symbols, Latin, kana, and 6,763 hanzi (levels 1 and 2)."""
    found = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                found.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def _source(path: str) -> TTFont:
    fonts = TTCollection(path).fonts if path.endswith(".ttc") else [TTFont(path)]
    for font in fonts:
        if font["name"].getDebugName(1) == SOURCE_FAMILY:
            return font
    raise SystemExit(f"{path} holds no {SOURCE_FAMILY}")


def _to_truetype(font: TTFont) -> None:
    """CFF outlines → quadratic ``glyf`` outlines (cu2qu), with left side bearings from the new bounds."""
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, MAX_ERROR, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    del font["CFF "]
    maxp = newTable("maxp")
    maxp.tableVersion, maxp.numGlyphs = 0x00010000, len(order)
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):  # fmt: skip
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    font["maxp"] = maxp
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 3.0  # no glyph names: nothing reads them
    hmtx = font["hmtx"]
    for name in order:
        glyph = glyf[name]
        glyph.recalcBounds(glyf)
        hmtx[name] = (hmtx[name][0], getattr(glyph, "xMin", 0))
    font.sfntVersion = "\x00\x01\x00\x00"


def _rename(font: TTFont) -> None:
    names = font["name"]
    keep = {0, 7, 8, 9, 11, 12, 13, 14}  # copyright, trademark, makers, URLs, licence
    names.names = [n for n in names.names if n.nameID in keep and n.platformID == 3 and n.langID == 0x409]
    for name_id, text in ((1, FAMILY), (2, "Regular"), (3, f"{POSTSCRIPT_NAME};subset"), (4, f"{FAMILY} Regular"),
                          (5, "Version 2.004"), (6, POSTSCRIPT_NAME),
                          (10, "Noto Sans CJK SC 2.004 cut to GB2312 plus Latin, outlines converted to TrueType, "
                               "for the hotline-eval reports.")):  # fmt: skip
        names.setName(text, name_id, 3, 1, 0x409)


def build(source: str, target: str) -> None:
    font = _source(source)
    options = subset.Options()
    options.layout_features = []  # no GSUB/GPOS: neither ReportLab nor matplotlib applies them
    options.name_IDs = ["*"]
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in gb2312() | set(EXTRA)))
    subsetter.subset(font)
    _to_truetype(font)
    _rename(font)
    font.recalcTimestamp = False  # the same source gives the same bytes
    font.save(target)


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
