"""Domain errors.  Each carries an HTTP-ish status and a message a user can act on.

Messages are Chinese first; ``message_en`` is the second locale.  ``api`` maps these to responses in
one handler; the command line prints them.
"""

from __future__ import annotations

from typing import Any


class WanggeError(Exception):
    """Base of every error wangge reports to a user."""

    status: int = 400
    code: str = "error"

    def __init__(self, message: str, message_en: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en or message
        self.extra = extra

    def localized(self, lang: str) -> str:
        """The message in ``lang`` (``zh`` or ``en``)."""
        return self.message_en if lang == "en" else self.message


class BadRequest(WanggeError):
    """A request the server cannot take as it is (e.g. a missing Idempotency-Key)."""

    status = 400
    code = "bad_request"


class UnsupportedMediaType(WanggeError):
    status = 415
    code = "unsupported_media_type"


class InvalidInput(WanggeError):
    status = 422
    code = "invalid_input"


class NotFound(WanggeError):
    status = 404
    code = "not_found"


class Conflict(WanggeError):
    status = 409
    code = "conflict"


class DatabaseNotReady(WanggeError):
    """The database is missing, unreachable, or unsafe to run on (no PostGIS, fsync off …)."""

    status = 503
    code = "database_not_ready"


class StorageFull(WanggeError):
    """A file the server was given could not be written (a full disk, a quota, a storage fault):
    nothing of the request was kept, and sending it again once there is room will do."""

    status = 507
    code = "storage_full"


class ClusterError(WanggeError):
    """The embedded PostgreSQL cluster could not be created, started or stopped."""

    status = 500
    code = "cluster_error"


class NotAuthenticated(WanggeError):
    """No valid session: not logged in, logged out, expired or idle too long."""

    status = 401
    code = "not_authenticated"


class OtpRequired(NotAuthenticated):
    """The account uses 动态口令: its one-time code is asked for, to be judged with the password
    (whether the password was right is not told)."""

    code = "otp_required"


class WrongOtp(NotAuthenticated):
    """The password or the one-time code (动态口令) was wrong, or the code used already — not
    told which (counted as a failed login)."""

    code = "wrong_otp"


class Forbidden(WanggeError):
    """Logged in, but the role lacks the permission, or the act is outside the caller's grids."""

    status = 403
    code = "forbidden"


class PasswordChangeRequired(Forbidden):
    """The caller's password was set by someone else: they change it before anything else."""

    code = "password_change_required"


class TooManyAttempts(WanggeError):
    """Too many attempts from the caller's address: try again after ``retry_after`` seconds."""

    status = 429
    code = "too_many_attempts"


class OtpSetupRequired(PasswordChangeRequired):
    """The account's role must log in with 动态口令, and it has none yet: set it up first."""

    code = "otp_setup_required"


class AccountLocked(WanggeError):
    status = 423
    code = "account_locked"
