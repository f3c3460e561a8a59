"""The dashboards' read models: SQL over the projections' tables, at a moment."""
