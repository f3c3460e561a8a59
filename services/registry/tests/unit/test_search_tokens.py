"""Search tokens of a person and of a query, as plain Python: a query matches a person when
all its tokens are among the person's."""

from __future__ import annotations

import pytest

from cordon_registry.domain.errors import InvalidInput
from cordon_registry.domain.search_tokens import SearchKind, person_tokens, query_tokens

WANG_XIAOMING = person_tokens("王小明", "13912345678", "11010519800101123X")


def finds(kind: SearchKind, query: str, person: set[tuple[str, str]] = WANG_XIAOMING) -> bool:
    return set(query_tokens(kind, query)) <= person


@pytest.mark.parametrize("query", ["王", "小", "王小", "小明", "王小明", " 王小明 "])
def test_a_character_or_a_run_of_the_name_finds_the_person(query: str) -> None:
    assert finds("name_part", query)


@pytest.mark.parametrize("query", ["王明", "明小", "李", "小王"])
def test_characters_out_of_order_or_not_in_the_name_do_not(query: str) -> None:
    assert not finds("name_part", query)


@pytest.mark.parametrize(
    "query", ["wang", "xiao", "ming", "wangxiao", "xiaoming", "wangxiaoming", "Wang Xiaoming"]
)
def test_whole_pinyin_syllables_in_a_row_find_the_person(query: str) -> None:
    assert finds("pinyin", query)


@pytest.mark.parametrize("query", ["wxm", "wx", "xm", "xiaom", "wangx", "wangxiaom", "WXM"])
def test_initials_and_a_last_syllable_begun_find_the_person(query: str) -> None:
    assert finds("pinyin", query)


@pytest.mark.parametrize("query", ["mingwang", "xiaomi", "wangming", "zxm", "li", "xmw"])
def test_other_syllables_or_initials_do_not(query: str) -> None:
    assert not finds("pinyin", query)


def test_every_reading_of_a_character_is_indexed() -> None:
    # 曾 reads ceng and zeng; as a surname it is zeng, and either finds the person.
    zeng = person_tokens("曾小红", None, "E12345678")
    assert finds("pinyin", "zeng", zeng) and finds("pinyin", "zxh", zeng)
    assert finds("pinyin", "lv", person_tokens("吕方", None, "E12345678"))
    assert finds("pinyin", "lü", person_tokens("吕方", None, "E12345678"))


def test_the_last_4_digits_of_phone_and_document_find_the_person() -> None:
    assert finds("phone_last4", "5678") and finds("document_last4", "123x")
    assert not finds("phone_last4", "1234") and not finds("document_last4", "5678")
    assert ("phone_last4", "5678") not in person_tokens("王芳", None, "11010519800101123X")


def test_a_name_in_letters_is_found_by_a_whole_word() -> None:
    smith = person_tokens("John  Smith", None, "E12345678")
    assert finds("name_part", "smith", smith) and finds("name_part", "JOHN", smith)
    assert not finds("name_part", "smi", smith)


@pytest.mark.parametrize(
    ("kind", "query", "says"),
    [
        ("name_part", "", "at least 1 Chinese character"),
        ("name_part", "a", "at least 1 Chinese character"),
        ("name_part", "11010519800101123X", "no digits"),
        ("name_part", "王\x00", "NUL"),
        ("name_part", "王%", "Chinese characters or letters"),
        ("pinyin", "w", "2 to 60 letters"),
        ("pinyin", "wang1", "letters a to z"),
        ("pinyin", "w" * 61, "2 to 60 letters"),
        ("pinyin", "qqqqqq", "not pinyin"),
        ("phone_last4", "567", "exactly 4 digits"),
        ("phone_last4", "56789", "exactly 4 digits"),
        ("document_last4", "12X3", "exactly 4 digits"),
    ],
)
def test_a_query_too_short_or_of_the_wrong_shape_is_refused_naming_value(
    kind: SearchKind, query: str, says: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        query_tokens(kind, query)
    assert refused.value.field == "value" and says in refused.value.reason


def test_tokens_grow_with_the_name_not_faster() -> None:
    # 100 different characters (the longest name accepted): a bounded number of rows.
    long_name = "".join(chr(0x4E00 + 7 * n) for n in range(100))
    assert len(person_tokens(long_name, "13912345678", "E12345678")) < 12 * 100
    assert len(WANG_XIAOMING) < 25
