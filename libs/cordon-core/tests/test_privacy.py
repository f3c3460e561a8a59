"""Properties of the redaction helper: every ID number and mobile number goes, whatever
surrounds it (Chinese text included), and nothing else changes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cordon_core.privacy import (
    ID_NUMBER_MARK,
    PHONE_NUMBER_MARK,
    personal_numbers,
    redact,
)

digit = st.sampled_from("0123456789")
separator = st.sampled_from(["", "", "", " ", "-"])


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # the 18-digit number, its last character maybe X
        last = draw(st.sampled_from("0123456789Xx"))
        groups = [draw(st.text(digit, min_size=n, max_size=n)) for n in (6, 8, 3)]
        sep = draw(st.sampled_from(["", "", " ", "-"]))
        return sep.join(groups[:2]) + sep + groups[2] + last
    groups = [draw(st.text(digit, min_size=n, max_size=n)) for n in (6, 6, 3)]
    return draw(st.sampled_from(["", " ", "-"])).join(groups)


@st.composite
def mobile_numbers(draw: st.DrawFn) -> str:
    digits = "1" + draw(st.sampled_from("3456789")) + draw(st.text(digit, min_size=9, max_size=9))
    if draw(st.booleans()):  # full-width digits, as some input methods type them
        digits = digits.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    grouping = draw(st.sampled_from(["plain", "3-4-4", "spaced"]))
    if grouping == "3-4-4":
        sep = draw(st.sampled_from(["-", " "]))
        digits = f"{digits[:3]}{sep}{digits[3:7]}{sep}{digits[7:]}"
    elif grouping == "spaced":
        digits = "".join(c + draw(separator) for c in digits[:-1]) + digits[-1]
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "86", "0086-", "\uff0b86"]))
    return prefix + digits


# Text around a number: Chinese, letters, punctuation, and digit runs that are not numbers
# (short ones), but never a digit, + or X touching the number itself.
filler_chars = st.sampled_from([*"王五张三身份证电话住址号码房楼、 ()abcXyz", "\uff1a", "\uff0c"])
filler = st.text(filler_chars, max_size=12)
short_digits = st.text(digit, min_size=1, max_size=4)
surroundings = st.lists(st.one_of(filler, short_digits.map(lambda d: f"第{d}栋")), max_size=3)


def _clean_edge(text: str, *, leading: bool) -> str:
    edge = text[:1] if leading else text[-1:]
    return text if edge and edge not in "0123456789+Xx" else "的"


@given(surroundings, id_numbers(), mobile_numbers(), surroundings)
def test_id_and_mobile_numbers_are_redacted_wherever_they_stand(
    before: list[str], id_number: str, mobile: str, after: list[str]
) -> None:
    head = _clean_edge("".join(before), leading=False)
    tail = _clean_edge("".join(after), leading=True)
    text = f"{head}{id_number}{tail}电话{mobile}{tail}"

    redacted = redact(text)

    assert id_number not in redacted
    assert mobile not in redacted
    assert redacted == f"{head}{ID_NUMBER_MARK}{tail}电话{PHONE_NUMBER_MARK}{tail}"
    assert personal_numbers(redacted) == []


@given(id_numbers(), mobile_numbers())
def test_a_number_right_after_a_chinese_character_is_found(id_number: str, mobile: str) -> None:
    text = f"王五身份证{id_number}电话{mobile}"

    assert personal_numbers(text) == [id_number, mobile]


@given(st.text())
def test_redaction_leaves_nothing_to_find_and_is_idempotent(text: str) -> None:
    once = redact(text)

    assert personal_numbers(once) == []
    assert redact(once) == once


@given(st.text(st.characters(blacklist_categories=["Nd"])))
def test_text_without_digits_is_unchanged(text: str) -> None:
    assert redact(text) == text


@given(st.text(digit, min_size=19, max_size=30))
def test_longer_digit_runs_are_not_numbers_of_a_person(run: str) -> None:
    # an order or parcel number; cutting a phone number out of it would corrupt it
    assert redact(f"快递单号{run}") == f"快递单号{run}"
