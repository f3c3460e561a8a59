"""The projector service: read models and the dashboard, built only from events."""
