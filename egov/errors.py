"""The one base of every refusal the platform explains to people: a stable code, an HTTP status, and the
message in Vietnamese with English beside it."""

from __future__ import annotations


class Refusal(Exception):
    """A request we refuse for a reason the caller can act on. `code` is the RFC 9457 type's last segment."""

    code = "refused"
    status = 400

    def __init__(self, vietnamese: str, english: str) -> None:
        super().__init__(f"{vietnamese} / {english}")
        self.vietnamese = vietnamese
        self.english = english
