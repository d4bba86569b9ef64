"""Anchors every glyph's box at x = 0, for plotters' ab_glyph renderer.

plotters 0.3.7 draws each glyph's pixel box at the pen position and drops
the glyph's left side bearing, so `cl` reads as `d`. A contour of one point
at x = 0 draws nothing but starts the box at the pen, which puts the ink
back where the font designed it. Composite glyphs (accented capitals) are
left alone; the pictures draw ASCII and µ.

    python3 anchor.py IN.ttf OUT.ttf   (needs fontTools: Debian's fonttools)
"""
import array
import sys

from fontTools.ttLib import TTFont
from fontTools.ttLib.tables._g_l_y_f import GlyphCoordinates

src, dst = sys.argv[1], sys.argv[2]
font = TTFont(src)
glyf = font["glyf"]
hmtx = font["hmtx"]
for name in font.getGlyphOrder():
    g = glyf[name]
    if g.numberOfContours <= 0:
        continue
    g.recalcBounds(glyf)
    if g.xMin <= 0:
        continue
    coords = list(g.coordinates) + [(0, g.yMin)]
    g.coordinates = GlyphCoordinates(coords)
    g.flags = array.array("B", list(g.flags) + [1])
    g.endPtsOfContours = list(g.endPtsOfContours) + [len(coords) - 1]
    g.numberOfContours += 1
    g.recalcBounds(glyf)
    hmtx[name] = (hmtx[name][0], g.xMin)
font.save(dst)
