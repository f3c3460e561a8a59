"""Operator tools that look across Cordon's services (each service's store, the topics and
the read models), for use after an incident: ``cordon reconcile``."""
