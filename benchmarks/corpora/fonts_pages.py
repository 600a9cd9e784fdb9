"""``fonts-pages``: 1600x1200 photos of a page of notes written small, one number among its words.

The notes of ``fonts-notes`` (its fonts, words, pens and papers), 2-9 lines of 1-5 words, on a
page photographed whole, as a phone shows a notebook page: the digits 1.5-3% of the photo's
height (18-36 px); in half the photos the table shows around the page (2-6% of the frame on
each side). Read as the README tells users to read such a photo, with the smallest digit
searched for at ``READ_MIN_HEIGHT`` of the picture's height (``--min-height``); the kit's
default (4%) would look for none this small. Index ``i`` uses font ``i % 6``.
"""

from __future__ import annotations

from benchmarks.corpora.fonts_notes import Note, photographed_note
from benchmarks.corpora.items import Item
from benchmarks.corpora.sources import Sources

NAME = "fonts-pages"
SIZE = 120  # 20 per font
TUNE_SIZE = 360
NEEDS = ("handwriting",)
FRAME = (1200, 1600)
READ_MIN_HEIGHT = 0.012
NOTE = Note(
    frame=FRAME, margin=60, digit_height=(18.0, 36.0), lines=(2, 10), words=(1, 6), surround=0.5
)


def make(split: str, index: int, sources: Sources) -> list[Item]:
    """Item ``index`` of ``split``."""
    return [photographed_note(NAME, split, index, sources, NOTE, min_height=READ_MIN_HEIGHT)]
