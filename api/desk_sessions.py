"""Desk sessions in the service database: opened at a verified login, found by the hash of the cookie, ended by
logout here or by Keycloak's back-channel logout (by `sid`, or by `sub` when the provider names only the user)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_

from egov.db import Database
from idp.demo_portals import vietnamese_name
from idp.tokens import AccessToken
from signing.desk_models import DeskSessionRecord

COOKIE = "egov_desk"
LIFETIME = timedelta(hours=8)  # a working day at most; Keycloak's back-channel logout ends it sooner
IDLE = timedelta(minutes=30)  # as Keycloak's SSO idle timeout: a desk left alone is locked again
IDLE_SLACK = timedelta(minutes=1)  # the idle deadline is moved at most once a minute (one write, not one per request)


@dataclass(frozen=True)
class DeskUser:
    """Who is at the desk, from their verified tokens."""

    subject: str
    username: str
    display_name: str
    roles: frozenset[str]
    keycloak_sid: str | None
    id_token: str = field(repr=False)

    @classmethod
    def of(cls, access: AccessToken, id_token: str) -> DeskUser:
        username = str(access.claims.get("preferred_username") or access.subject)
        return cls(access.subject, username, vietnamese_name(access), access.realm_roles, access.session_id, id_token)

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


class DeskSessions:
    def __init__(self, database: Database, lifetime: timedelta = LIFETIME, idle: timedelta = IDLE) -> None:
        self.database = database
        self.lifetime = lifetime
        self.idle = min(idle, lifetime)

    def _deadline(self, created_at: datetime, now: datetime) -> datetime:
        """`expires_at` is the idle deadline, never past the session's whole lifetime."""
        return min(now + self.idle, created_at + self.lifetime)

    def open(self, user: DeskUser, replacing: str | None = None) -> str:
        """A new cookie value for `user` (a fresh one at every login: no session fixation); the session it
        replaces, and expired ones, are gone."""
        cookie = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.database.transaction() as session:
            stale = [DeskSessionRecord.expires_at < now]
            if replacing:
                stale.append(DeskSessionRecord.id == _key(replacing))
            session.execute(delete(DeskSessionRecord).where(or_(*stale)))
            session.add(DeskSessionRecord(
                id=_key(cookie), subject=user.subject, keycloak_sid=user.keycloak_sid, username=user.username,
                display_name=user.display_name, roles=" ".join(sorted(user.roles)), id_token=user.id_token,
                created_at=now, expires_at=self._deadline(now, now),
            ))
        return cookie

    def find(self, cookie: str | None) -> DeskUser | None:
        if not cookie:
            return None
        now = datetime.now(UTC)
        with self.database.transaction() as session:
            record = session.get(DeskSessionRecord, _key(cookie))
            if record is None or record.expires_at <= now:  # idle, or at the end of its lifetime (`_deadline`)
                return None
            deadline = self._deadline(record.created_at, now)
            if deadline - record.expires_at >= IDLE_SLACK:  # in use: the idle deadline moves on
                record.expires_at = deadline
            return DeskUser(record.subject, record.username, record.display_name, frozenset(record.roles.split()),
                            record.keycloak_sid, record.id_token)

    def close(self, cookie: str | None) -> DeskUser | None:
        """End this session here; returns who it was (their id_token is the logout hint)."""
        user = self.find(cookie)
        if cookie:
            with self.database.transaction() as session:
                session.execute(delete(DeskSessionRecord).where(DeskSessionRecord.id == _key(cookie)))
        return user

    def end(self, keycloak_sid: str | None, subject: str | None) -> int:
        """The provider logged out this session (or every session of this user): how many desk sessions ended."""
        if keycloak_sid:
            condition = DeskSessionRecord.keycloak_sid == keycloak_sid
        elif subject:
            condition = DeskSessionRecord.subject == subject
        else:
            return 0
        with self.database.transaction() as session:
            return session.execute(delete(DeskSessionRecord).where(condition)).rowcount or 0
