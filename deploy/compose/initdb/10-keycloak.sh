#!/bin/sh
# Keycloak gets its own database and role, separate from the service database.
set -eu
psql -v ON_ERROR_STOP=1 -U egov -d egov <<SQL
CREATE ROLE keycloak LOGIN PASSWORD '$(cat /run/secrets/keycloak_db_password)';
CREATE DATABASE keycloak OWNER keycloak;
SQL
