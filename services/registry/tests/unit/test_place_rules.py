"""A place's rules as plain Python: renaming to the name it has is nothing new."""

from __future__ import annotations

from datetime import UTC, datetime

from cordon_registry.domain.places import Place, new_place

AT = datetime(2022, 4, 1, tzinfo=UTC)


def building(name: str) -> Place:
    added = new_place(place_id="b1", kind="sub_district", name=name, parent=None, at=AT)
    return Place.from_events([added])


def test_renaming_a_place_to_its_own_name_records_nothing() -> None:
    assert building("1号楼").rename("1号楼", AT) is None


def test_renaming_a_place_to_another_name_is_recorded() -> None:
    renamed = building("1号楼").rename("一号楼", AT)

    assert renamed is not None and renamed.previous_name == "1号楼"


def test_a_phone_number_typed_into_a_name_is_not_kept() -> None:
    renamed = building("1号楼").rename("1号楼 管理员13800138000", AT)

    assert renamed is not None and "13800138000" not in renamed.name
    assert building(renamed.name).rename("1号楼 管理员13800138000", AT) is None
