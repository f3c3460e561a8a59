"""Cordon's notification service: grid workers, building heads, residents and offices told
about what concerns them, once per event, recipient and channel, in their language."""
