"""Sessions logged out at the provider, remembered as long as their tokens could still be presented."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class _SessionBound(Protocol):
    session_id: str | None
    subject: str
    issued_at: int


class LoggedOutSessions:
    """Ended `sid`s (every token of the session is refused) and `sub`s logged out everywhere (tokens issued up to
    then are refused), plus the `jti`s of logout tokens already used. Entries expire after `retention` seconds,
    which must cover the longest access-token lifetime. One process's memory; several app instances each receive
    the back-channel call for their own client, or share this state through a store of their choice."""

    def __init__(self, retention: float = 3600.0, clock: Callable[[], float] = time.time) -> None:
        self.retention = retention
        self.clock = clock
        self._sids: dict[str, float] = {}
        self._subjects: dict[str, float] = {}  # sub -> time of the logout
        self._jtis: dict[str, float] = {}
        self._lock = threading.Lock()

    def end(self, session_id: str | None = None, subject: str | None = None) -> None:
        now = self.clock()
        with self._lock:
            self._prune(now)
            if session_id:
                self._sids[session_id] = now + self.retention
            if subject and not session_id:
                self._subjects[subject] = now

    def has_ended(self, token: _SessionBound) -> bool:
        if token.session_id is not None and token.session_id in self._sids:
            return True
        logged_out_at = self._subjects.get(token.subject) if self._subjects else None
        return logged_out_at is not None and token.issued_at <= logged_out_at

    def first_use_of(self, jti: str) -> bool:
        """True the first time a logout token's `jti` is seen, False for a replay."""
        now = self.clock()
        with self._lock:
            self._prune(now)
            if jti in self._jtis:
                return False
            self._jtis[jti] = now + self.retention
            return True

    def _prune(self, now: float) -> None:
        for table in (self._sids, self._jtis):
            for key in [k for k, until in table.items() if until < now][:1000]:
                del table[key]
        for key in [k for k, at in self._subjects.items() if at + self.retention < now][:1000]:
            del self._subjects[key]
