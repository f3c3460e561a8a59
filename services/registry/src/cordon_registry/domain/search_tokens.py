"""Search tokens: the pieces of a person's name, phone and document that partial, pinyin and
last-digits search look up, and the same pieces of a query. The registry keeps only keyed
hashes of them (docs/registry.md, "Partial and pinyin search"); these functions never see
a key and do no I/O.

A query's tokens must all be among a person's tokens for the person to match.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from itertools import pairwise, product
from typing import Literal

from pypinyin import Style, pinyin
from pypinyin.contrib.tone_convert import to_normal
from pypinyin.pinyin_dict import pinyin_dict

from cordon_registry.domain.errors import InvalidInput

SearchKind = Literal["name_part", "pinyin", "phone_last4", "document_last4"]
SEARCH_KINDS: tuple[SearchKind, ...] = ("name_part", "pinyin", "phone_last4", "document_last4")
Token = tuple[str, str]
"""(kind, token): the kind is hashed with the token, so equal text of two kinds differs."""

MAX_INITIALS = 4
"""Initials are indexed for runs of 2 to 4 characters: 王小明 gives wx, xm, wxm."""
MAX_PINYIN_LETTERS = 60
_MAX_READINGS = 16
"""A run of characters with more reading combinations than this is left out of the
initials (a handful of rare characters have 5 or more readings each)."""
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_WORD = re.compile(r"[^\W\d_]{2,}")
_LAST4 = {"phone_last4": re.compile(r"\d{4}"), "document_last4": re.compile(r"\d{3}[\dX]")}


@cache
def readings(character: str) -> tuple[str, ...]:
    """The toneless pinyin readings of one Chinese character (ü as v): 曾 gives ceng, zeng."""
    found = pinyin(character, style=Style.NORMAL, heteronym=True, errors="ignore")
    return tuple(dict.fromkeys(r for r in (found[0] if found else []) if r.isalpha()))


@cache
def syllables() -> frozenset[str]:
    """Every toneless syllable of pypinyin's dictionary: what a pinyin query is split into.
    Interjections without a vowel (m, ng, hm) are left out: xiaom is xiao and the start of
    a syllable, never xiao m."""
    marked = {reading for readings_of in pinyin_dict.values() for reading in readings_of.split(",")}
    return frozenset(s for s in map(to_normal, marked) if re.search("[aeiouv]", s))


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def person_tokens(name: str, phone: str | None, document_number: str) -> set[Token]:
    """Everything a person can be found by besides the exact keyed hashes."""
    tokens: set[Token] = set()
    name = _clean(name)
    for run in _HAN.findall(name):
        tokens |= {("name_part", c) for c in run}
        tokens |= {("name_part", run[i : i + 2]) for i in range(len(run) - 1)}
        tokens |= _pinyin_tokens(run)
    tokens |= {("name_part", word) for word in _WORD.findall(_HAN.sub(" ", name))}
    if phone:
        tokens.add(("phone_last4", phone[-4:]))
    tokens.add(("document_last4", document_number[-4:].upper()))
    return tokens


def _pinyin_tokens(run: str) -> set[Token]:
    said = [readings(c) for c in run]
    tokens: set[Token] = {("pinyin", f"s:{r}") for each in said for r in each}
    for a, b in pairwise(said):
        tokens |= {("pinyin", f"p:{x} {y}") for x, y in product(a, b)}
    initials = [sorted({r[0] for r in each}) for each in said]
    for size in range(2, MAX_INITIALS + 1):
        for start in range(len(run) - size + 1):
            window = [i for i in initials[start : start + size] if i]
            combinations = 1
            for letters in window:
                combinations *= len(letters)
            if len(window) == size and combinations <= _MAX_READINGS:
                tokens |= {("pinyin", "i:" + "".join(c)) for c in product(*window)}
    return tokens


def query_tokens(kind: SearchKind, value: str) -> list[Token]:
    """The tokens a query must all match, or InvalidInput naming ``value`` for a query too
    short or of the wrong shape for its kind (so that no query lists a whole community)."""
    if "\x00" in value:
        raise InvalidInput("value", "contains a NUL character")
    if kind == "name_part":
        return _name_query(_clean(value))
    if kind == "pinyin":
        return _pinyin_query(value)
    digits = re.sub(r"[\s-]", "", value).upper()
    if not _LAST4[kind].fullmatch(digits):
        what = "phone" if kind == "phone_last4" else "document (the last may be X)"
        raise InvalidInput("value", f"the last 4 characters of a {what}: exactly 4 digits")
    return [(kind, digits)]


def _name_query(name: str) -> list[Token]:
    if any(c.isdigit() for c in name):
        raise InvalidInput(
            "value", "a name has no digits: search phone_last4, document_last4 or document"
        )
    if re.search(r"[^\w\s·.'-]|_", name):
        raise InvalidInput("value", "a part of a name is Chinese characters or letters")
    tokens: list[Token] = []
    for run in _HAN.findall(name):
        pieces = [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
        tokens += [("name_part", p) for p in pieces]
    tokens += [("name_part", word) for word in _WORD.findall(_HAN.sub(" ", name))]
    if not tokens:
        raise InvalidInput("value", "type at least 1 Chinese character or a word of 2 letters")
    return list(dict.fromkeys(tokens))


def split_syllables(letters: str) -> list[str] | None:
    """The fewest whole syllables that spell ``letters`` (xian is xian, not xi an), or None."""
    known = syllables()
    best: list[list[str] | None] = [[]] + [None] * len(letters)
    for end in range(1, len(letters) + 1):
        for start in range(max(0, end - 6), end):
            before = best[start]
            current = best[end]
            if (
                before is not None
                and letters[start:end] in known
                and (current is None or len(before) + 1 < len(current))
            ):
                best[end] = [*before, letters[start:end]]
    return best[len(letters)]


def _pinyin_query(value: str) -> list[Token]:
    letters = re.sub(r"[\s']", "", unicodedata.normalize("NFKC", value)).casefold()
    letters = letters.replace("ü", "v").replace("u:", "v")
    if not re.fullmatch(r"[a-z]+", letters or "-"):
        raise InvalidInput("value", "pinyin is the letters a to z (ü as v), without tones")
    if not 2 <= len(letters) <= MAX_PINYIN_LETTERS:
        raise InvalidInput("value", f"pinyin has 2 to {MAX_PINYIN_LETTERS} letters")
    whole = split_syllables(letters)
    if whole is not None:
        return _syllable_tokens(whole)
    # Whole syllables and the start of one more: xiaom is xiao and a syllable in m.
    for cut in range(len(letters) - 1, 0, -1):
        head, tail = split_syllables(letters[:cut]), letters[cut:]
        if head and any(s.startswith(tail) for s in syllables()):
            initials = "".join(s[0] for s in head) + tail[0]
            return [*_syllable_tokens(head), ("pinyin", "i:" + initials[-MAX_INITIALS:])]
    if len(letters) <= MAX_INITIALS:
        return [("pinyin", "i:" + letters)]
    raise InvalidInput(
        "value",
        f"not pinyin: whole syllables (wang, xiaoming, xiaom) or 2 to {MAX_INITIALS} "
        "initials (wxm)",
    )


def _syllable_tokens(said: list[str]) -> list[Token]:
    if len(said) == 1:
        return [("pinyin", f"s:{said[0]}")]
    return list(dict.fromkeys(("pinyin", f"p:{a} {b}") for a, b in pairwise(said)))
