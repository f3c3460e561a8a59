"""Root conftest: the cordon_testing plugin (fixtures for real Kafka and PostgreSQL) is
loaded through its pytest11 entry point."""
