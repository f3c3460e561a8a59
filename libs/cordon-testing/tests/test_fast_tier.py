"""The fast tier is chosen by fixtures, not by a list: a test whose fixtures reach Kafka or
PostgreSQL is marked ``infra`` when collected, so ``pytest -m "not infra"`` leaves it out."""

import pytest

pytest_plugins = ["pytester"]

TIERS = """
import pytest

@pytest.fixture
def ledger(database_url):
    return database_url

def test_a_rule():
    pass

def test_a_store(ledger):
    pass

def test_a_broker(kafka_backend):
    pass

def test_on_tansu(tansu_backend):
    pass
"""


def test_only_tests_reaching_no_server_are_left_in_the_fast_tier(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_tiers=TIERS)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = session\n")

    fast = pytester.runpytest_inprocess("--collect-only", "-q", "-m", "not infra")
    infra = pytester.runpytest_inprocess("--collect-only", "-q", "-m", "infra")

    fast.stdout.fnmatch_lines(["test_tiers.py::test_a_rule", "1/4 tests collected*"])
    infra.stdout.fnmatch_lines(["3/4 tests collected*"])
    assert "test_a_rule" not in infra.stdout.str()
