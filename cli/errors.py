"""The last line of defence of every `kam` command: an error nobody handled becomes one clear sentence on stderr
and an exit code, never a traceback (KAM_DEBUG=1 shows the traceback too)."""

from __future__ import annotations

import errno
import os
import sqlite3
import traceback

BUSY_EXIT = 3  # the same code as "another kam process is using the knowledge index"


def explain(exc: BaseException, home: str) -> tuple[str, int]:
    """(message, exit code) for an exception that reached the top of a command."""
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    if _is_db_error(exc):
        if "database is locked" in low or "database is busy" in low:
            return (f"busy: another kam process is writing to the database in {home} (an ingest, an import or a "
                    "tier review); run the command again when it has finished", BUSY_EXIT)
        if "database or disk is full" in low:
            return f"the disk holding {home} is full: free some space and run the command again", 1
        if "disk i/o error" in low:
            return (f"cannot read or write the database in {home} (disk I/O error): the disk may be full or "
                    "failing; free some space or check the disk, then run the command again", 1)
        if "readonly" in low or "read-only" in low:
            return f"the database in {home} is read-only for this user", 1
        if "unable to open database" in low:
            return f"cannot open the database in {home}: check that the directory exists and is writable", 1
        return f"database error: {_short(text)}", 1
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return f"no space left to write {exc.filename or home}: free some space and run the command again", 1
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"permission denied: {exc.filename or home}", 1
        return f"{exc.strerror or _short(text)}" + (f": {exc.filename}" if exc.filename else ""), 1
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ == "ValidationError" and callable(errors):  # the settings (environment or .env)
        first = errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())).upper()
        return f"invalid setting {name}: {first.get('msg')} (got {_short(repr(first.get('input')), 80)})", 1
    if isinstance(exc, MemoryError):
        return "out of memory", 1
    return f"unexpected error ({type(exc).__name__}): {_short(text)}; set KAM_DEBUG=1 to see where", 1


def _is_db_error(exc: BaseException) -> bool:
    try:
        from sqlalchemy.exc import DBAPIError
    except ImportError:  # pragma: no cover
        DBAPIError = ()  # type: ignore[assignment,misc] # noqa: N806
    return isinstance(exc, sqlite3.Error | DBAPIError) or "sqlite3" in type(exc).__module__


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def debug() -> bool:
    return os.environ.get("KAM_DEBUG", "").strip().lower() in ("1", "true", "yes")


def print_traceback() -> None:
    traceback.print_exc()
