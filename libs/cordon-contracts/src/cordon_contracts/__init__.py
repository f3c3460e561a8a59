"""Cordon's public event contracts, shared by the services that publish and consume them."""
