"""Resident ID numbers and other documents, validated as plain Python."""

from __future__ import annotations

from datetime import date

import pytest

from cordon_registry.domain.errors import InvalidInput
from cordon_registry.domain.identity import check_character, parse_document, validate_resident_id

TODAY = date(2022, 4, 10)


def test_a_valid_resident_id_is_accepted_and_normalised() -> None:
    # The GB 11643 example number: 11010519491231002X.
    assert validate_resident_id(" 11010519491231002x ", today=TODAY) == "11010519491231002X"


def test_check_character_is_iso_7064_mod_11_2_with_x_for_ten() -> None:
    assert check_character("11010519491231002") == "X"
    assert check_character("44030419900101123") in "0123456789X"


def test_a_wrong_check_digit_is_rejected_naming_the_expected_one() -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_resident_id("110105194912310021", today=TODAY)
    assert refused.value.field == "document_number"
    assert refused.value.reason == "check digit 1 is wrong (ISO 7064 MOD 11-2 gives X)"


def test_an_unreal_birth_date_is_rejected() -> None:
    with pytest.raises(InvalidInput) as refused:
        validate_resident_id("110105194902301234", today=TODAY)
    assert refused.value.reason == "birth date 19490230 is not a real date (YYYYMMDD)"


def test_a_birth_date_in_the_future_is_rejected() -> None:
    first = "11010520220411123"
    with pytest.raises(InvalidInput) as refused:
        validate_resident_id(first + check_character(first), today=TODAY)
    assert refused.value.reason == "birth date 2022-04-11 is in the future"


def test_an_unknown_province_code_is_rejected() -> None:
    first = "99010519491231002"
    with pytest.raises(InvalidInput) as refused:
        validate_resident_id(first + check_character(first), today=TODAY)
    assert refused.value.reason == "region code 990105 is not a valid region (no province 99)"


@pytest.mark.parametrize("number", ["1101051949123100", "11010519491231002Y", "ABCDEFGHIJKLMNOPQR"])
def test_a_number_of_the_wrong_shape_is_rejected(number: str) -> None:
    with pytest.raises(InvalidInput, match="18 characters"):
        validate_resident_id(number, today=TODAY)


@pytest.mark.parametrize("province", ["11", "65", "71", "81", "82"])
def test_every_listed_province_code_is_accepted(province: str) -> None:
    first = f"{province}010519800101123"
    validate_resident_id(first + check_character(first), today=TODAY)


def test_passports_are_typed_documents_checked_by_shape() -> None:
    assert parse_document("passport", "e 1234 5678", today=TODAY).key == "passport:E12345678"
    with pytest.raises(InvalidInput, match="passport number has 5 to 20"):
        parse_document("passport", "E1", today=TODAY)


def test_an_unknown_document_type_is_rejected_naming_its_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_document("library_card", "123", today=TODAY)
    assert refused.value.field == "document_type"
