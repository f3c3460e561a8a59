"""Root conftest: the cordon_testing plugin (fixtures for real Kafka and PostgreSQL, and the
``infra`` mark on every test that reaches them) is loaded through its pytest11 entry point."""
