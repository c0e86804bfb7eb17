"""Typed refusals of the signing and validation layer, each with a stable code and a bilingual message."""

from __future__ import annotations

from egov.errors import Refusal


class SigningError(Refusal):
    """Base for every refusal to sign or read a document."""

    code = "signing-error"


class InvalidDocument(SigningError):
    """Not a PDF, damaged beyond reading, encrypted, or too large to handle."""

    code = "invalid-document"


class EncryptedDocument(InvalidDocument):
    code = "encrypted-document"


class DocumentTooLarge(InvalidDocument):
    code = "document-too-large"


class FieldNotFound(SigningError):
    code = "signature-field-not-found"
    status = 404


class NoSignatures(SigningError):
    code = "no-signatures"
    status = 422


class SealNeedsPersonalSignature(SigningError):
    """Decree 30: the organisation's seal goes only on a document the competent person has validly signed."""

    code = "seal-needs-personal-signature"
    status = 409


class CredentialUnusable(SigningError):
    """The credential is unknown, has no key, or its certificate is not good for signing now."""

    code = "credential-unusable"
    status = 409


class TimeServiceUnavailable(SigningError):
    """The TSA, OCSP responder or CRL could not be reached for B-T and above."""

    code = "time-service-unavailable"
    status = 503
