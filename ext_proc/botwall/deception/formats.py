"""Learned value formats: what a header value, a cookie value or a string in a JSON body or an HTML page looks like,
as fixed parts and variable slots; and fresh values of the same format.

A value is cut into *words* (runs of letters, digits, `-` and `_`) and the delimiters between them; values with the
same delimiters in the same places share a *skeleton* (`Group`). Per skeleton, each word is a `Slot`: *fixed* where
every sample had the same text and the samples came from at least `MIN_CLIENTS` clients (a site-wide constant such as
`application/json` or `HttpOnly`, never one person's value), else *variable*: its lengths and the characters seen,
per position while every sample had the same length (a UUID's dashes stay where they are), else for the first
character and the rest apart (a capitalised word stays one), or the range of its values where every sample was a
number. A synthesized value keeps the fixed words and fills each slot with random characters of its classes, so it
never carries a sampled value (`tests/unit/test_deception.py` checks that no sampled slot value reappears).

Bounded: at most `MAX_GROUPS` skeletons per format (later ones are counted, not learned), `MAX_WORDS` words and
`MAX_VALUE` characters per value (a longer value is cut), and a slot's per-position classes for `MAX_VALUE`
positions at most. Learning a value is O(its length); so is synthesizing one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MIN_CLIENTS = 3  # distinct clients whose samples agree before a word is a site-wide constant
MAX_GROUPS = 8
MAX_WORDS = 64
MAX_VALUE = 2048
_NUMBER_DIGITS = 15  # a longer run of digits is a token (an id), not a number to draw from a range

# Character classes, as bits: what a slot may be filled with.
DIGIT, HEX_LOWER, LOWER, HEX_UPPER, UPPER, DASH, UNDERSCORE = 1, 2, 4, 8, 16, 32, 64
_ALPHABETS = {
    DIGIT: "0123456789",
    HEX_LOWER: "abcdef",
    LOWER: "ghijklmnopqrstuvwxyz",
    HEX_UPPER: "ABCDEF",
    UPPER: "GHIJKLMNOPQRSTUVWXYZ",
    DASH: "-",
    UNDERSCORE: "_",
}
_CHARS: dict[int, str] = {}  # a class mask's characters, built on first use


def _class(char: str) -> int:
    if "0" <= char <= "9":
        return DIGIT
    if "a" <= char <= "f":
        return HEX_LOWER
    if "A" <= char <= "F":
        return HEX_UPPER
    if char == "-":
        return DASH
    if char == "_":
        return UNDERSCORE
    if char.isupper():
        return UPPER
    return LOWER  # other lower-case letters, and any other letter (written as an ASCII lower-case one)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char in "-_"


def chars_of(mask: int) -> str:
    """The characters of a class mask (lower-case letters for an empty one)."""
    chars = _CHARS.get(mask)
    if chars is None:
        chars = "".join(text for bit, text in _ALPHABETS.items() if mask & bit) or _ALPHABETS[LOWER]
        _CHARS[mask] = chars
    return chars


def split(value: str) -> tuple[tuple[str, ...], list[str]]:
    """A value's skeleton (the delimiters before, between and after its words) and its words."""
    delimiters: list[str] = []
    words: list[str] = []
    start = 0
    in_word = False
    for i, char in enumerate(value):
        word_char = _is_word_char(char)
        if word_char and not in_word:
            delimiters.append(value[start:i])
            start = i
            in_word = True
        elif not word_char and in_word:
            words.append(value[start:i])
            start = i
            in_word = False
    if in_word:
        words.append(value[start:])
        delimiters.append("")
    else:
        delimiters.append(value[start:])
    return tuple(delimiters), words


@dataclass(slots=True)
class Slot:
    """One word position of a skeleton: the text all samples agreed on, or what its values were made of."""

    text: str | None  # the one text seen while every sample had it; None once two differed
    shortest: int
    longest: int
    first: int = 0  # classes of the first character
    rest: int = 0  # classes of the other characters
    positions: list[int] | None = None  # classes per position while every sample had the same length
    numeric: bool = True  # every sample was a number of at most `_NUMBER_DIGITS` digits without a leading zero
    low: int = 0
    high: int = 0
    lengths: list[int] = field(default_factory=list)  # the first `_LENGTHS` lengths seen (drawn from, not a range)

    @classmethod
    def of(cls, word: str) -> Slot:
        slot = cls(word, len(word), len(word), positions=[_class(c) for c in word], lengths=[len(word)])
        slot.first = _class(word[0]) if word else 0
        for char in word[1:]:
            slot.rest |= _class(char)
        slot.numeric = _number(word)
        if slot.numeric:
            slot.low = slot.high = int(word)
        return slot

    def observe(self, word: str) -> None:
        if self.text is not None and word != self.text:
            self.text = None
        n = len(word)
        self.shortest = min(self.shortest, n)
        self.longest = max(self.longest, n)
        if len(self.lengths) < _LENGTHS:
            self.lengths.append(n)
        if word:
            self.first |= _class(word[0])
            for char in word[1:]:
                self.rest |= _class(char)
        if self.positions is not None:
            if len(self.positions) != n:
                self.positions = None
            else:
                for i, char in enumerate(word):
                    self.positions[i] |= _class(char)
        if self.numeric:
            if _number(word):
                value = int(word)
                self.low = min(self.low, value)
                self.high = max(self.high, value)
            else:
                self.numeric = False

    def synthesize(self, rng: random.Random, fixed: bool, length: int = -1) -> str:
        """The fixed text, or a fresh word of the slot's format (`length` characters, when given)."""
        if fixed and self.text is not None:
            return self.text
        if self.numeric and self.high >= 10:
            return str(number(rng, self.low, self.high, [length] if length > 0 else self.lengths))
        if self.positions is not None:
            if self.positions and all(mask and not mask & _NOT_LETTER for mask in self.positions):
                return _letters(rng, [not mask & _LOWER_CASE for mask in self.positions])
            return "".join(rng.choice(chars_of(mask)) for mask in self.positions)
        n = length if length >= 0 else rng.choice(self.lengths) if self.lengths else self.shortest
        if n == 0:
            return ""
        if self.first and not (self.first | self.rest) & _NOT_LETTER:
            upper_rest = bool(self.rest) and not self.rest & _LOWER_CASE
            return _letters(rng, [not self.first & _LOWER_CASE] + [upper_rest] * (n - 1))
        rest = chars_of(self.rest)
        return rng.choice(chars_of(self.first)) + "".join(rng.choice(rest) for _ in range(n - 1))


_LENGTHS = 32


def number(rng: random.Random, low: int, high: int, lengths: list[int]) -> int:
    """A number in [low, high] with as many digits as one of the numbers seen had (prices of four digits stay so)."""
    if lengths:
        digits = rng.choice(lengths)
        low, high = max(low, 10 ** (digits - 1) if digits > 1 else 0), min(high, 10**digits - 1)
    return rng.randint(low, high) if low <= high else low


_NOT_LETTER = DIGIT | DASH | UNDERSCORE
_LOWER_CASE = HEX_LOWER | LOWER
_VOWELS = "aeiou"
_CONSONANTS = "bcdfghklmnprstvz"


def _letters(rng: random.Random, upper: list[bool]) -> str:
    """A pronounceable word, one letter per entry of `upper` (whether that letter is a capital)."""
    out = []
    vowel = rng.random() < 0.3
    for capital in upper:
        char = rng.choice(_VOWELS if vowel else _CONSONANTS)
        out.append(char.upper() if capital else char)
        vowel = not vowel if rng.random() < 0.85 else vowel
    return "".join(out)


def _number(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) <= _NUMBER_DIGITS and (word == "0" or word[0] != "0")


@dataclass(slots=True)
class Group:
    """The samples of one skeleton."""

    skeleton: tuple[str, ...]
    slots: list[Slot]
    count: int = 1
    clients: set[int] = field(default_factory=set)  # up to MIN_CLIENTS distinct clients that sent samples
    # The lengths of the words of the first `_LENGTHS` values, together: a fake value takes one such set whole, so
    # fake values are as long as real ones are (a name of three short words stays one), never one chosen word long.
    lengths: list[tuple[int, ...]] = field(default_factory=list)

    def settled(self) -> bool:
        """Whether its agreed words are site-wide constants (samples from enough clients)."""
        return len(self.clients) >= MIN_CLIENTS


def _kind(word: str) -> str:
    if word.isdigit():
        return "9"
    if word.isalpha():
        return "a"
    return "x"


def _key(skeleton: tuple[str, ...], words: list[str]) -> tuple[str, ...]:
    # The delimiters, and whether each word was a number, letters or a mix: "6 in stock" and "Only 3 left" differ.
    return (*skeleton, "".join(_kind(w) for w in words))


@dataclass(slots=True)
class Format:
    """The learned format of one kind of value (see the module docstring)."""

    groups: dict[tuple[str, ...], Group] = field(default_factory=dict)
    samples: int = 0
    unlearned: int = 0  # samples of a skeleton past `MAX_GROUPS`

    def observe(self, value: str, client: int) -> None:
        """Learn one sampled value from one client (a keyed hash)."""
        self.samples += 1
        skeleton, words = split(value[:MAX_VALUE])
        if len(words) > MAX_WORDS:
            skeleton, words = skeleton[: MAX_WORDS + 1], words[:MAX_WORDS]
        key = _key(skeleton, words)
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= MAX_GROUPS:
                self.unlearned += 1
                return
            group = self.groups[key] = Group(skeleton, [Slot.of(w) for w in words])
        else:
            group.count += 1
            for slot, word in zip(group.slots, words, strict=True):
                slot.observe(word)
        if len(group.lengths) < _LENGTHS:
            group.lengths.append(tuple(len(w) for w in words))
        if len(group.clients) < MIN_CLIENTS:
            group.clients.add(client)

    def synthesize(self, rng: random.Random) -> str:
        """A fresh value: a skeleton drawn by how often it was seen, its fixed words, its slots filled anew."""
        if not self.groups:
            return ""
        groups = [g for g in self.groups.values() if g.settled()] or list(self.groups.values())
        group = rng.choices(groups, weights=[g.count for g in groups])[0] if len(groups) > 1 else groups[0]
        fixed = group.settled()
        lengths = rng.choice(group.lengths) if group.lengths else (-1,) * len(group.slots)
        out = [group.skeleton[0]]
        for slot, delimiter, length in zip(group.slots, group.skeleton[1:], lengths, strict=True):
            out.append(slot.synthesize(rng, fixed, length))
            out.append(delimiter)
        return "".join(out)

    def fixed(self) -> bool:
        """Whether every value it would synthesize is one constant (a single settled skeleton of fixed words)."""
        if len(self.groups) != 1:
            return False
        group = next(iter(self.groups.values()))
        return group.settled() and all(slot.text is not None for slot in group.slots)
