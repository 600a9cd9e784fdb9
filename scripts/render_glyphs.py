"""Render the handwriting the judge trains on into ``train/glyphs.npz`` (committed).

The digits of handwriting and school fonts from Debian's packages (positives) and their
letters that look like no digit (``train.glyphs.LETTERS``, negatives), each font at the size
that makes its digits about ``RENDERED_HEIGHT`` px tall (training only ever shrinks them), cut
to their ink, with each glyph's height above the baseline so that words can be set. The fonts
are **not** the reading benchmark's (``benchmarks/corpora/fonts.py``): training on those would
measure nothing. The file is committed so that training needs no
fonts installed and every machine trains on the same pixels; re-run this only to change the
font list (Pillow and fontTools come with the ``dev`` extra):

    sudo apt-get install fonts-dkg-handwriting fonts-breip fonts-bwht fonts-dancingscript \
        fonts-kaushanscript fonts-kristi fonts-seto fonts-nanum-extra \
        fonts-sil-andika fonts-tomsontalks fonts-havana fonts-leckerli-one fonts-lobster \
        fonts-navilu fonts-opendyslexic
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

from benchmarks.corpora.fonts import FontFile, FontsMissingError, crop_to_ink, locate  # noqa: E402
from runtime.atomic import write_bytes  # noqa: E402
from train.glyphs import DIGITS, GLYPHS_FILE, LETTERS, RENDERED_HEIGHT  # noqa: E402

FONTS = (
    FontFile("DKG handwriting", "fonts-dkg-handwriting", "truetype/fifthhorseman/dkg.ttf"),
    FontFile("DKG handwriting bold", "fonts-dkg-handwriting", "truetype/fifthhorseman/dkgBd.ttf"),
    FontFile("Breip", "fonts-breip", "truetype/breip/Breip.ttf"),
    *(
        FontFile(f"Because We {name}", "fonts-bwht", f"opentype/bwht/BecauseWe{name}-Regular.otf")
        for name in ("Build", "Connect", "Create", "Learn", "Mentor", "Organize")
    ),
    FontFile(
        "Dancing Script", "fonts-dancingscript", "opentype/dancingscript/DancingScript-Regular.otf"
    ),
    FontFile(
        "Dancing Script bold",
        "fonts-dancingscript",
        "opentype/dancingscript/DancingScript-Bold.otf",
    ),
    FontFile(
        "Kaushan Script", "fonts-kaushanscript", "opentype/kaushanscript/KaushanScript-Regular.otf"
    ),
    FontFile("Kristi", "fonts-kristi", "truetype/kristi/Kristi.ttf"),
    FontFile("Seto", "fonts-seto", "truetype/seto/setofont.ttf"),
    FontFile("Nanum Pen", "fonts-nanum-extra", "truetype/nanum/NanumPen.ttf"),
    FontFile("Nanum Brush", "fonts-nanum-extra", "truetype/nanum/NanumBrush.ttf"),
    FontFile("Nanum Barun Pen", "fonts-nanum-extra", "truetype/nanum/NanumBarunpenR.ttf"),
    FontFile("Nanum Barun Pen bold", "fonts-nanum-extra", "truetype/nanum/NanumBarunpenB.ttf"),
    FontFile("Andika", "fonts-sil-andika", "truetype/andika/Andika-Regular.ttf"),
    FontFile("Andika italic", "fonts-sil-andika", "truetype/andika/Andika-Italic.ttf"),
    FontFile("Tomson Talks", "fonts-tomsontalks", "truetype/tomsontalks/TomsonTalks.ttf"),
    FontFile("Havana", "fonts-havana", "opentype/havana/Havana-Regular.otf"),
    FontFile("Leckerli One", "fonts-leckerli-one", "truetype/leckerli-one/LeckerliOne-Regular.ttf"),
    FontFile("Lobster", "fonts-lobster", "opentype/lobster/lobster.otf"),
    FontFile("Navilu", "fonts-navilu", "truetype/Navilu/Navilu.ttf"),
    FontFile(
        "OpenDyslexic", "fonts-opendyslexic", "opentype/opendyslexic/OpenDyslexic-Regular.otf"
    ),
    FontFile(
        "OpenDyslexic italic", "fonts-opendyslexic", "opentype/opendyslexic/OpenDyslexic-Italic.otf"
    ),
)


def render(path: Path, char: str, size: int) -> tuple[np.ndarray, int]:
    """``char`` at ``size`` px as uint8 ink cut to its ink, and the ink's height above the
    baseline (px)."""
    font = ImageFont.truetype(str(path), size)
    baseline = size * 3
    canvas = Image.new("L", (size * 4, size * 4), 0)
    ImageDraw.Draw(canvas).text((size, baseline), char, font=font, fill=255, anchor="ls")
    alpha = np.asarray(canvas, np.float32) / 255.0
    ink = crop_to_ink(alpha, border=0)  # ValueError when the font draws nothing
    top = int(np.flatnonzero(alpha.max(axis=1) > 0.05)[0])
    return np.round(ink * 255).astype(np.uint8), baseline - top


def package_version(package: str) -> str:
    """The installed version of a Debian package, for the record."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"render_glyphs: cannot read the version of {package}: {result.stderr}")
    return result.stdout


def main() -> int:
    """Render every font's digits and letters and write ``train/glyphs.npz`` atomically."""
    try:
        paths = locate(FONTS)
    except FontsMissingError as error:
        raise SystemExit(f"render_glyphs: {error}") from None
    pixels, shapes, above, chars, font_ids, names = [], [], [], [], [], []
    for font in FONTS:
        path = paths[font.name]
        covered = TTFont(str(path), lazy=True).getBestCmap()
        if missing := [d for d in DIGITS if ord(d) not in covered]:
            raise SystemExit(f"render_glyphs: {path} has no {' '.join(missing)}")
        probe = np.median([render(path, d, 64)[0].shape[0] for d in DIGITS])
        size = round(64 * RENDERED_HEIGHT / probe)
        names.append(f"{font.name} ({font.package} {package_version(font.package)}, {size} px)")
        for char in DIGITS + "".join(c for c in LETTERS if ord(c) in covered):
            try:
                ink, height_above = render(path, char, size)
            except ValueError:
                if char in DIGITS:
                    raise SystemExit(f"render_glyphs: {path} draws no {char}") from None
                continue  # a letter the font maps but leaves blank
            pixels.append(ink.ravel())
            shapes.append(ink.shape)
            above.append(height_above)
            chars.append(char)
            font_ids.append(len(names) - 1)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        pixels=np.concatenate(pixels),
        shapes=np.asarray(shapes, np.int32),
        above=np.asarray(above, np.int32),
        chars=np.asarray(chars),
        fonts=np.asarray(font_ids, np.int32),
        font_names=np.asarray(names),
    )
    write_bytes(GLYPHS_FILE, buffer.getvalue())
    print(f"{len(chars)} glyphs of {len(names)} fonts -> {GLYPHS_FILE} ({buffer.tell()} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
