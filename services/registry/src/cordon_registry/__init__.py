"""The registry service: every household, every person (不漏一户、不落一人)."""
