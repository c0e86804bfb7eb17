"""Trust anchors and the signing settings: our root by default, the operator's and the user's added."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from egov.settings import Settings, SettingsError
from signing.errors import SigningError
from signing.trust import read_certificates, trust_anchors


def test_signing_settings_have_safe_defaults_and_refuse_bad_values(tmp_path):
    settings = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path), "EGOV_PUBLIC_BASE_URL": "http://127.0.0.1:9000/"})
    assert settings.tsa_url == "http://127.0.0.1:9000/tsa" and settings.trust_anchors == ()
    assert settings.max_pdf_pages == 5000
    with pytest.raises(SettingsError):
        Settings.from_env({"EGOV_DATA_DIR": str(tmp_path), "EGOV_TSA_URL": "ftp://tsa"})
    with pytest.raises(SettingsError):
        Settings.from_env({"EGOV_DATA_DIR": str(tmp_path), "EGOV_MAX_PDF_PAGES": "0"})


def test_our_root_then_configured_then_given_anchors_without_duplicates(signers, tmp_path):
    root_pem = tmp_path / "root.pem"
    root_pem.write_bytes(signers.root.public_bytes(Encoding.PEM))
    root_der = tmp_path / "root.der"
    root_der.write_bytes(signers.root.public_bytes(Encoding.DER))
    env = {"EGOV_DATA_DIR": str(signers.authority.settings.data_dir), "EGOV_TRUST_ANCHORS": f"{root_pem}{os.pathsep}",
           "EGOV_KEY_PASSPHRASE": "x" * 20}
    settings = Settings.from_env(env)
    assert settings.trust_anchors == (root_pem,)
    assert trust_anchors(settings, [root_der]) == (signers.root,)
    assert trust_anchors(settings, include_ours=False) == (signers.root,)


def test_a_fresh_directory_has_no_default_root_and_gets_no_database(tmp_path):
    settings = Settings.from_env({"EGOV_DATA_DIR": str(tmp_path / "nothing-here")})
    assert trust_anchors(settings) == ()
    assert not (tmp_path / "nothing-here" / "egov.sqlite3").exists()


def test_a_file_without_certificates_is_refused(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(SigningError):
        read_certificates(junk)
    with pytest.raises(SigningError):
        read_certificates(tmp_path / "missing.pem")
