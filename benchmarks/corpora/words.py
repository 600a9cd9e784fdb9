"""Ordinary English words (no digits) for handwritten notes and printed pages."""

from __future__ import annotations

import numpy as np

_WORD_LIST = """
    the and for are but not you all any can had her was one our out day get has him his how
    man new now old see two way who boy did its let put say she too use about after again
    also back because before being below between both bring call came come could down each
    even every find first follow from give good great hand have help here home house just
    keep kind know large last leave light like line little live long look made make many
    might more most move much must name near need never next night only open other over
    own page paper part people place plant point right road same school second should show
    side small some sound spell start still story study such take tell than that their them
    then there these they thing think this those three through time together took tree try
    turn under until very walk want watch water well went were what when where which while
    white will with word work world would write year young apple bread chair cloud dream
    earth field glass green happy horse lemon music ocean piano quiet river smile table
    tiger voice window yellow zebra garden pencil letter morning orange purple summer winter
    friday monday coffee dinner market ticket travel basket button candle flower
"""
WORDS = tuple(_WORD_LIST.split())


def words(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` words drawn from ``WORDS``."""
    return [WORDS[int(i)] for i in rng.integers(len(WORDS), size=count)]


def sentence(rng: np.random.Generator) -> str:
    """A sentence of 4-14 words: capitalised, a comma maybe, a full stop."""
    chosen = words(rng, int(rng.integers(4, 15)))
    chosen[0] = chosen[0].capitalize()
    if len(chosen) > 6 and rng.random() < 0.5:
        at = int(rng.integers(2, len(chosen) - 2))
        chosen[at] += ","
    return " ".join(chosen) + rng.choice([".", ".", ".", "?", ";", ":"])
