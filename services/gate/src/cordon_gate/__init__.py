"""The gate service: every entry and exit at a checkpoint is decided and recorded."""
