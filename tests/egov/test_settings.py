"""One settings object from EGOV_* with safe defaults; bad values are refused at start, not later."""

from __future__ import annotations

from pathlib import Path

import pytest

from egov.settings import Settings, SettingsError


def test_defaults_keep_everything_under_the_data_dir(tmp_path: Path):
    settings = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'egov.sqlite3'}"
    assert settings.keys_dir == tmp_path / "keys"
    assert settings.key_backend == "file"
    assert settings.public_base_url == "http://127.0.0.1:8080"


def test_generated_passphrase_is_kept_private_and_stable(tmp_path: Path):
    settings = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path)})
    first = settings.file_key_passphrase()
    assert len(first) >= 32 and first == settings.file_key_passphrase()
    assert (tmp_path / "secrets" / "key-passphrase").stat().st_mode & 0o077 == 0


def test_secrets_do_not_show_in_repr(tmp_path: Path):
    settings = Settings.from_env(
        {"EGOV_DATA_DIR": str(tmp_path), "EGOV_KEY_PASSPHRASE": "s3cret-pass", "EGOV_PKCS11_PIN": "987654"}
    )
    assert "s3cret-pass" not in repr(settings) and "987654" not in repr(settings)


@pytest.mark.parametrize(
    "env",
    [
        {"EGOV_KEY_BACKEND": "floppy"},
        {"EGOV_CA_KEY_ALGORITHM": "rsa-1024"},
        {"EGOV_CRL_VALIDITY_HOURS": "soon"},
        {"EGOV_CRL_VALIDITY_HOURS": "0"},
        {"EGOV_PUBLIC_BASE_URL": "ftp://example"},
    ],
)
def test_bad_values_are_refused(tmp_path: Path, env: dict[str, str]):
    with pytest.raises(SettingsError):
        Settings.from_env({"EGOV_DATA_DIR": str(tmp_path), **env})


def test_secrets_can_come_from_files(tmp_path: Path):
    (tmp_path / "pin").write_text("246810\n")
    (tmp_path / "db").write_text("postgresql://egov:pw@db.internal/egov\n")
    settings = Settings.from_env(
        {"EGOV_DATA_DIR": str(tmp_path), "EGOV_PKCS11_PIN_FILE": str(tmp_path / "pin"),
         "EGOV_DATABASE_URL_FILE": str(tmp_path / "db")}
    )
    assert settings.pkcs11_pin == "246810"
    assert settings.database_url == "postgresql://egov:pw@db.internal/egov"
    with pytest.raises(SettingsError):
        Settings.from_env({"EGOV_DATA_DIR": str(tmp_path), "EGOV_PKCS11_PIN_FILE": str(tmp_path / "missing")})


def test_directory_secret_is_configured_or_the_one_apply_generates(tmp_path: Path):
    from api.cli.idp import realm_plan

    (tmp_path / "directory").write_text("from-a-file\n")
    configured = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path / "a"),
                                    "EGOV_KEYCLOAK_DIRECTORY_SECRET_FILE": str(tmp_path / "directory")})
    assert configured.keycloak_directory_client_secret() == "from-a-file" and "from-a-file" not in repr(configured)
    # What `egov idp apply` sets on client egov-directory is what the API sends, configured or generated.
    assert realm_plan(configured, "http://a", "http://b", None).client_secret("egov-directory") == "from-a-file"
    embedded = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path / "b")})
    assert not (tmp_path / "b").exists()  # read when first needed
    generated = embedded.keycloak_directory_client_secret()
    assert generated == realm_plan(embedded, "http://a", "http://b", None).client_secret("egov-directory")
    assert (tmp_path / "b" / "secrets" / "keycloak-client-egov-directory").read_text() == generated


def test_every_client_secret_and_the_session_key_can_be_configured_for_several_instances(tmp_path: Path):
    """Instances behind one address must agree on the desk's client secret and on the key that signs session
    cookies and CSRF tokens; with nothing configured each comes from the data dir (one machine)."""
    from api.app import create_app
    from api.cli.idp import realm_plan
    from idp.realm import SIGNING_DESK_CLIENT

    (tmp_path / "desk").write_text("desk-secret\n")
    env = {"EGOV_DATA_DIR": str(tmp_path / "a"), "EGOV_SESSION_SECRET": "session-key",
           "EGOV_KEYCLOAK_CLIENT_SECRET_SIGNING_DESK_FILE": str(tmp_path / "desk"),
           "EGOV_KEYCLOAK_CLIENT_SECRET_PORTAL_DVC": "dvc-secret"}
    configured = Settings.from_env(env)
    assert configured.keycloak_client_secret(SIGNING_DESK_CLIENT) == "desk-secret"
    assert configured.keycloak_client_secret("portal-dvc") == "dvc-secret"
    assert "desk-secret" not in repr(configured) and "session-key" not in repr(configured)
    plan = realm_plan(configured, "http://a", "http://b", None)  # what `egov idp apply` sets on the clients
    assert plan.client_secret(SIGNING_DESK_CLIENT) == "desk-secret" and plan.client_secret("portal-dvc") == "dvc-secret"
    assert create_app(configured).secret_key == "session-key"
    assert not (tmp_path / "a" / "secrets" / "flask-session-key").exists()

    embedded = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path / "b")})
    generated = embedded.keycloak_client_secret(SIGNING_DESK_CLIENT)
    assert generated == realm_plan(embedded, "http://a", "http://b", None).client_secret(SIGNING_DESK_CLIENT)
    assert (tmp_path / "b" / "secrets" / "keycloak-client-signing-desk").read_text() == generated
    assert create_app(embedded).secret_key == (tmp_path / "b" / "secrets" / "flask-session-key").read_text()
