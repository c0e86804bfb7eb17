"""The one settings object: every EGOV_* environment variable, read once, with safe defaults."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

# Demo placeholders with small arcs (a UUID arc under 2.25 and the 2.999 example arc both fail pkilint's
# decoder and some Windows stacks). A deployment must set the policy OIDs registered for it.
DEFAULT_POLICY_OID = "1.3.6.1.4.1.99999.704.1.1"
DEFAULT_TSA_POLICY_OID = "1.3.6.1.4.1.99999.704.1.3"
DIRECTORY_CLIENT = "egov-directory"  # the Keycloak client signing looks users up as (idp/realm.py makes it)
CLIENT_SECRET_PREFIX = "EGOV_KEYCLOAK_CLIENT_SECRET_"  # + the client id in capitals, '-' as '_' (…_SIGNING_DESK)


class SettingsError(ValueError):
    """A setting has a value the service cannot run with."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _secret(env: Mapping[str, str], name: str) -> str:
    """A secret from NAME, or from the file NAME_FILE points to (container and Kubernetes secrets)."""
    value = env.get(name)
    if value:
        return value
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE points to an unreadable file: {exc.strerror}") from exc
    return ""


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name) or default
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    key_backend: str
    key_passphrase: str = field(repr=False)
    pkcs11_module: str
    pkcs11_token: str
    pkcs11_pin: str = field(repr=False)
    public_base_url: str
    ca_organization: str
    ca_key_algorithm: str
    subscriber_key_algorithm: str
    policy_oid: str
    tsa_policy_oid: str
    crl_validity: timedelta
    ocsp_validity: timedelta
    max_request_bytes: int
    log_level: str
    keycloak_version: str = "26.7.3"
    keycloak_port: int = 8180
    keycloak_management_port: int = 9180
    keycloak_url: str = "http://localhost:8180"
    keycloak_admin: str = "admin"
    keycloak_admin_password: str = field(default="", repr=False)
    keycloak_directory_secret: str = field(default="", repr=False)  # client egov-directory (service account)
    # Configured secrets of other Keycloak clients, as (client id, secret): every API instance must agree on them.
    keycloak_client_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    session_secret: str = field(default="", repr=False)  # signs the session cookie and CSRF tokens
    keycloak_cache_dir: Path = Path("~/.cache/egov-trust/keycloak")
    keycloak_start_timeout: int = 180
    java_home: str = ""
    maven_repository: str = "https://repo.maven.apache.org/maven2"
    tsa_url: str = ""
    trust_anchors: tuple[Path, ...] = ()
    max_pdf_pages: int = 5000
    sad_lifetime: int = 300  # seconds a Signature Activation Data stays usable
    signing_max_auth_age: int = 300  # seconds since the OTP login that still count as fresh for authorize
    csc_max_batch: int = 100  # hashes one authorize/signHash may carry (CSC `multisign`)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("EGOV_DATA_DIR") or Path.cwd() / ".egov-data").expanduser().resolve()
        database_url = _secret(env, "EGOV_DATABASE_URL") or f"sqlite:///{data_dir / 'egov.sqlite3'}"
        base_url = (env.get("EGOV_PUBLIC_BASE_URL") or "http://127.0.0.1:8080").rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise SettingsError("EGOV_PUBLIC_BASE_URL must be an http(s) URL")
        algorithms = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            key_backend=_choice(env, "EGOV_KEY_BACKEND", "file", ("file", "pkcs11")),
            key_passphrase=_secret(env, "EGOV_KEY_PASSPHRASE"),
            pkcs11_module=env.get("EGOV_PKCS11_MODULE") or "/usr/lib/softhsm/libsofthsm2.so",
            pkcs11_token=env.get("EGOV_PKCS11_TOKEN") or "egov",
            pkcs11_pin=_secret(env, "EGOV_PKCS11_PIN"),
            public_base_url=base_url,
            ca_organization=env.get("EGOV_CA_ORGANIZATION") or "egov-trust",
            ca_key_algorithm=_choice(env, "EGOV_CA_KEY_ALGORITHM", "ec-p384", algorithms),
            subscriber_key_algorithm=_choice(env, "EGOV_SUBSCRIBER_KEY_ALGORITHM", "rsa-2048", algorithms),
            policy_oid=env.get("EGOV_POLICY_OID") or DEFAULT_POLICY_OID,
            tsa_policy_oid=env.get("EGOV_TSA_POLICY_OID") or DEFAULT_TSA_POLICY_OID,
            crl_validity=timedelta(hours=_int(env, "EGOV_CRL_VALIDITY_HOURS", 24)),
            ocsp_validity=timedelta(minutes=_int(env, "EGOV_OCSP_VALIDITY_MINUTES", 60)),
            max_request_bytes=_int(env, "EGOV_MAX_REQUEST_BYTES", 32 * 1024 * 1024),
            log_level=env.get("EGOV_LOG_LEVEL") or "INFO",
            session_secret=_secret(env, "EGOV_SESSION_SECRET"),
            **_keycloak_settings(env),
            **_signing_settings(env, base_url),
            **_remote_signing_settings(env),
        )

    def file_key_passphrase(self) -> bytes:
        """The passphrase for file keys: from settings, else one generated once and kept 0600 in the data dir."""
        if self.key_passphrase:
            return self.key_passphrase.encode()
        return self.stored_secret("key-passphrase").encode()

    def keycloak_admin_secret(self) -> str:
        """The Keycloak bootstrap admin's password: from settings, else generated once into the data dir."""
        return self.keycloak_admin_password or self.stored_secret("keycloak-admin-password")

    def keycloak_directory_client_secret(self) -> str:
        """The secret of client `egov-directory` (user lookups for signing): from settings, else the one
        `egov idp apply` generated into the data dir for that client."""
        return self.keycloak_client_secret(DIRECTORY_CLIENT)

    def keycloak_client_secret(self, client_id: str) -> str:
        """A Keycloak client's secret: EGOV_KEYCLOAK_CLIENT_SECRET_<CLIENT_ID>(_FILE) when configured (several API
        instances, a Keycloak set up elsewhere), else the one generated once into the data dir, as `egov idp
        apply` sets it on the client."""
        configured = dict(self.keycloak_client_secrets).get(client_id)
        if client_id == DIRECTORY_CLIENT and self.keycloak_directory_secret:
            configured = self.keycloak_directory_secret
        return configured or self.stored_secret(f"keycloak-client-{client_id}")

    def session_signing_secret(self) -> str:
        """The key of the signed session cookie and CSRF tokens: EGOV_SESSION_SECRET(_FILE), shared by every
        instance behind one address, else generated once into the data dir (one machine)."""
        return self.session_secret or self.stored_secret("flask-session-key")

    def stored_secret(self, name: str) -> str:
        """A random secret generated once and kept 0600 under the data dir's secrets/ (same value ever after)."""
        path = self.data_dir / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(32))
        return path.read_text().strip()


def _keycloak_settings(env: Mapping[str, str]) -> dict[str, object]:
    port = _int(env, "EGOV_KEYCLOAK_PORT", 8180)
    url = (env.get("EGOV_KEYCLOAK_URL") or f"http://localhost:{port}").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingsError("EGOV_KEYCLOAK_URL must be an http(s) URL")
    version = env.get("EGOV_KEYCLOAK_VERSION") or "26.7.3"
    if not version.startswith("26."):
        raise SettingsError(f"EGOV_KEYCLOAK_VERSION must be a 26.x release, got {version!r}")
    return {
        "keycloak_version": version,
        "keycloak_port": port,
        "keycloak_management_port": _int(env, "EGOV_KEYCLOAK_MANAGEMENT_PORT", 9180),
        "keycloak_url": url,
        "keycloak_admin": env.get("EGOV_KEYCLOAK_ADMIN") or "admin",
        "keycloak_admin_password": env.get("EGOV_KEYCLOAK_ADMIN_PASSWORD") or "",
        "keycloak_directory_secret": _secret(env, "EGOV_KEYCLOAK_DIRECTORY_SECRET"),
        "keycloak_client_secrets": _client_secrets(env),
        "keycloak_cache_dir": Path(env.get("EGOV_KEYCLOAK_CACHE") or "~/.cache/egov-trust/keycloak").expanduser(),
        "keycloak_start_timeout": _int(env, "EGOV_KEYCLOAK_START_TIMEOUT", 180),
        "java_home": env.get("EGOV_JAVA_HOME") or "",
        "maven_repository": (env.get("EGOV_MAVEN_REPOSITORY") or "https://repo.maven.apache.org/maven2").rstrip("/"),
    }


def _client_secrets(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    prefix = CLIENT_SECRET_PREFIX
    names = {key[len(prefix):].removesuffix("_FILE") for key in env if key.startswith(prefix)}
    found = ((name.lower().replace("_", "-"), _secret(env, prefix + name)) for name in sorted(names))
    return tuple((client_id, secret) for client_id, secret in found if secret)


def _signing_settings(env: Mapping[str, str], base_url: str) -> dict[str, object]:
    """PAdES signing and validation: our TSA, extra trust anchors (PEM files, os.pathsep-separated), page cap."""
    tsa_url = (env.get("EGOV_TSA_URL") or f"{base_url}/tsa").rstrip("/")
    if not tsa_url.startswith(("http://", "https://")):
        raise SettingsError("EGOV_TSA_URL must be an http(s) URL")
    anchors = tuple(Path(p).expanduser() for p in (env.get("EGOV_TRUST_ANCHORS") or "").split(os.pathsep) if p)
    return {"tsa_url": tsa_url, "trust_anchors": anchors, "max_pdf_pages": _int(env, "EGOV_MAX_PDF_PAGES", 5000)}


def _remote_signing_settings(env: Mapping[str, str]) -> dict[str, object]:
    """Remote signing (CSC API): SAD lifetime, how recent the loa2 login must be, the batch cap."""
    return {
        "sad_lifetime": _int(env, "EGOV_SAD_LIFETIME_SECONDS", 300),
        "signing_max_auth_age": _int(env, "EGOV_SIGNING_MAX_AUTH_AGE_SECONDS", 300),
        "csc_max_batch": _int(env, "EGOV_CSC_MAX_BATCH", 100),
    }


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI's --data-dir use this before anything reads them)."""
    get_settings.cache_clear()
