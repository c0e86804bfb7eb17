"""Single sign-on: Keycloak realms as code, OIDC helpers, JWT/JWKS verification, logout."""
