"""Deployment: the Keycloak launcher, deployment files."""
