"""Render the handwriting glyphs the judge trains on into ``train/glyphs.npz`` (committed).

The digits of handwriting and school fonts from Debian's packages, at one size, cut to their
ink, with their place on the baseline so that ``train.glyphs`` can also write numbers. The fonts are **not** the reading
benchmark's (``benchmarks/corpora/fonts.py``): training on those would measure nothing.
The file is committed so that training needs no fonts installed and every machine trains
on the same pixels; re-run this (as root, for apt) only to change the font list:

    apt-get install fonts-dkg-handwriting fonts-breip fonts-bwht fonts-dancingscript \
        fonts-kaushanscript fonts-kristi fonts-ecolier-court fonts-seto \
        fonts-nanum-extra fonts-sil-andika fonts-tomsontalks
    python scripts/render_glyphs.py
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.atomic import write_bytes  # noqa: E402
from train.glyphs import DIGITS, GLYPHS_FILE  # noqa: E402

FONT_SIZE = 64
FONTS = {  # package -> font files under /usr/share/fonts
    "fonts-dkg-handwriting": ["truetype/fifthhorseman/dkg.ttf", "truetype/fifthhorseman/dkgBd.ttf"],
    "fonts-breip": ["truetype/breip/Breip.ttf"],
    "fonts-bwht": [
        f"opentype/bwht/BecauseWe{name}-Regular.otf"
        for name in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")
    ],
    "fonts-dancingscript": [
        "opentype/dancingscript/DancingScript-Regular.otf",
        "opentype/dancingscript/DancingScript-Bold.otf",
    ],
    "fonts-kaushanscript": ["opentype/kaushanscript/KaushanScript-Regular.otf"],
    "fonts-kristi": ["truetype/kristi/Kristi.ttf"],
    "fonts-ecolier-court": ["truetype/ecolier-court/Ecolier-court.ttf"],
    "fonts-seto": ["truetype/seto/setofont.ttf"],
    "fonts-nanum-extra": [
        "truetype/nanum/NanumPen.ttf",
        "truetype/nanum/NanumBrush.ttf",
        "truetype/nanum/NanumBarunpenR.ttf",
        "truetype/nanum/NanumBarunpenB.ttf",
    ],
    "fonts-sil-andika": ["truetype/andika/Andika-Regular.ttf", "truetype/andika/Andika-Italic.ttf"],
    "fonts-tomsontalks": ["truetype/tomsontalks/TomsonTalks.ttf"],
}


def render(font: ImageFont.FreeTypeFont, char: str) -> tuple[np.ndarray, int, int]:
    """The glyph's ink (uint8 0..255) and its ink top and left relative to the pen position
    on the baseline."""
    side = FONT_SIZE * 4
    origin = (FONT_SIZE, FONT_SIZE * 3)
    canvas = Image.new("L", (side, side), 0)
    ImageDraw.Draw(canvas).text(origin, char, font=font, fill=255, anchor="ls")
    ink = np.asarray(canvas)
    rows, cols = np.flatnonzero(ink.max(axis=1) > 12), np.flatnonzero(ink.max(axis=0) > 12)
    if len(rows) == 0:
        raise ValueError(f"{char!r} draws nothing")
    top, left = int(rows[0]), int(cols[0])
    crop = ink[top : rows[-1] + 1, left : cols[-1] + 1]
    return crop, top - origin[1], left - origin[0]


def main() -> int:
    pixels, shapes, places, advances, chars, font_ids, names = [], [], [], [], [], [], []
    for package, files in FONTS.items():
        version = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True
        ).stdout
        for file in files:
            path = Path("/usr/share/fonts") / file
            covered = TTFont(str(path), lazy=True).getBestCmap()
            font = ImageFont.truetype(str(path), FONT_SIZE)
            names.append(f"{path.name} ({package} {version})")
            for char in DIGITS:
                if ord(char) not in covered:
                    raise SystemExit(f"{path} has no {char!r}: every font must write every digit")
                crop, top, left = render(font, char)
                pixels.append(crop.ravel())
                shapes.append(crop.shape)
                places.append((top, left))
                advances.append(font.getlength(char))
                chars.append(char)
                font_ids.append(len(names) - 1)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        pixels=np.concatenate(pixels),
        shapes=np.asarray(shapes, np.int32),
        places=np.asarray(places, np.int32),
        advances=np.asarray(advances, np.float32),
        chars=np.asarray(chars),
        fonts=np.asarray(font_ids, np.int32),
        font_names=np.asarray(names),
        font_size=np.int32(FONT_SIZE),
    )
    write_bytes(GLYPHS_FILE, buffer.getvalue())
    print(f"{len(chars)} glyphs of {len(names)} fonts -> {GLYPHS_FILE} ({buffer.tell()} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
