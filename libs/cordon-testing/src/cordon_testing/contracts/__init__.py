"""Contract suites: behaviour every backend of the store, relay, inbox and projection
runtime must show. Subclass one per backend (see libs/cordon-core/tests)."""
