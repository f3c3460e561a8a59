"""The rules of a list an office sends in one request (orders, passes): each subject once,
one community."""

from cordon_core.lists import repeated, unlike_the_first


def test_a_repeated_subject_names_its_row_and_the_earlier_one() -> None:
    assert repeated(["p1", "p2", "p1", "p3", "p2", "p1"]) == {2: 0, 4: 1, 5: 0}
    assert repeated([]) == {}


def test_rows_of_another_community_than_the_first_are_named() -> None:
    assert unlike_the_first(["c1", "c1", "c2", "c1", "c3"]) == [2, 4]
    assert unlike_the_first([]) == []
