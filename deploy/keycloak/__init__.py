"""Keycloak launcher and its pins."""
