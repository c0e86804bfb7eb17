"""Desk sessions: a fresh cookie at each login, only its hash stored, an idle deadline that moves while the desk is
used and ends a desk left alone, and a whole lifetime no use extends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from api.desk_sessions import IDLE, LIFETIME, DeskSessions, DeskUser, _key
from egov.db import Database
from signing.desk_models import DeskSessionRecord

USER = DeskUser("sub-1", "official", "Nguyễn Thị Hồng Đào", frozenset({"official"}), "sid-1", "id.token.value")


@pytest.fixture
def sessions(database_url: str):
    database = Database(database_url)
    database.upgrade()
    yield DeskSessions(database)
    database.dispose()


def shift(sessions: DeskSessions, cookie: str, by: timedelta) -> None:
    """Move the session's clock marks into the past, as if `by` had gone by."""
    with sessions.database.transaction() as session:
        record = session.get(DeskSessionRecord, _key(cookie))
        session.execute(update(DeskSessionRecord).where(DeskSessionRecord.id == record.id).values(
            created_at=record.created_at - by, expires_at=record.expires_at - by))


def expiry(sessions: DeskSessions, cookie: str) -> datetime:
    with sessions.database.transaction() as session:
        return session.execute(select(DeskSessionRecord.expires_at).where(
            DeskSessionRecord.id == _key(cookie))).scalar_one()


def test_only_the_hash_of_the_cookie_is_stored_and_each_login_gets_a_new_one(sessions):
    first = sessions.open(USER)
    second = sessions.open(USER, replacing=first)
    assert first != second and sessions.find(first) is None and sessions.find(second) == USER
    with sessions.database.transaction() as session:
        ids = session.execute(select(DeskSessionRecord.id)).scalars().all()
    assert ids == [_key(second)]


def test_a_desk_left_alone_past_the_idle_time_is_logged_out(sessions):
    cookie = sessions.open(USER)
    shift(sessions, cookie, IDLE + timedelta(seconds=1))
    assert sessions.find(cookie) is None


def test_use_moves_the_idle_deadline_on(sessions):
    cookie = sessions.open(USER)
    shift(sessions, cookie, IDLE - timedelta(minutes=5))
    before = expiry(sessions, cookie)
    assert sessions.find(cookie) == USER
    assert expiry(sessions, cookie) - before >= IDLE - timedelta(minutes=6)
    shift(sessions, cookie, IDLE - timedelta(minutes=5))
    assert sessions.find(cookie) == USER  # 50 minutes after login, in use all along


def test_no_use_extends_a_session_past_its_lifetime(sessions):
    cookie = sessions.open(USER)
    with sessions.database.transaction() as session:  # logged in almost a working day ago, last used 29 min ago
        session.execute(update(DeskSessionRecord).values(
            created_at=datetime.now(UTC) - LIFETIME + timedelta(minutes=10),
            expires_at=datetime.now(UTC) + timedelta(minutes=1)))
    assert sessions.find(cookie) == USER
    assert expiry(sessions, cookie) <= datetime.now(UTC) + timedelta(minutes=10)  # moved on, up to the lifetime
    shift(sessions, cookie, timedelta(minutes=11))  # in use until the very end, then the lifetime is over
    assert sessions.find(cookie) is None


def test_back_channel_logout_ends_the_sessions_of_that_keycloak_session(sessions):
    cookie = sessions.open(USER)
    other = sessions.open(DeskUser("sub-2", "clerk", "Lê Văn Cường", frozenset({"clerk"}), "sid-2", "t"))
    assert sessions.end("sid-1", None) == 1
    assert sessions.find(cookie) is None and sessions.find(other) is not None
