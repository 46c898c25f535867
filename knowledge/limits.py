"""Limits on what an input file may hold, checked before anything is parsed deeply or stored.

One oversized or hostile file (a 1 MB account name, a 30 MB note, 100,000 nested lists, an anchor expanded a
million times) must be refused with its file and line, never make an import run for hours, exhaust memory or
crash the interpreter. The numbers are documented in docs/profile-format.md ("Limits"); they are far above what
real profiles, CRM exports and 10-K filings hold.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

# --- file sizes (bytes)
MAX_PROFILE_BYTES = 1_000_000  # one account's YAML profile
MAX_PEOPLE_BYTES = 20_000_000  # people.yaml (about 100,000 people)
MAX_CSV_BYTES = 500_000_000  # one CRM export table
MAX_FILING_BYTES = 50_000_000  # one 10-K JSON (the largest real ones are ~10 MB)

# --- structure
MAX_DEPTH = 32  # nested mappings/lists in YAML and JSON (a profile needs 4)
MAX_YAML_NODES = 200_000  # scalars, mappings and lists in one YAML file
MAX_NUMBER_DIGITS = 100  # digits of a number written in YAML (more is not a quantity)

# --- fields (characters); the short ones match the database columns (PostgreSQL enforces them)
MAX_NAME_CHARS = 200  # account names, aliases, contact/competitor/supplier/customer names, person names
MAX_LINE_CHARS = 300  # owner, team members, industry, region, emails, key date titles (columns of 300+)
MAX_TEXT_CHARS = 20_000  # free text: summaries, notes, needs (an embedding of 20,000 characters takes ~1.5 s)
MAX_CSV_FIELD_CHARS = 10_000  # one CSV cell

# --- lists (items)
MAX_ALIASES = 50
MAX_TEAM = 200
MAX_ITEMS = 1_000  # contacts, key dates, competitors, suppliers, customers
MAX_RECORDS = 10_000  # interactions, notes
MAX_REMIND = 20  # reminder offsets of one key date
MAX_REMIND_DAYS = 3_660  # the earliest reminder: ten years before the date
MAX_PEOPLE = 100_000


class InputRefused(ValueError):
    """A file that is not a readable regular file, or is larger than its limit."""


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, without ever blocking.

    A FIFO, socket, device or directory named like an input file is refused: opening a FIFO for reading would
    wait forever for a writer (O_NONBLOCK makes the open return at once, then fstat tells what it is)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise InputRefused("is a directory, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputRefused("is a symbolic link loop") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputRefused(f"is not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise InputRefused(f"is {info.st_size:,} bytes, more than the limit of {max_bytes:,}")
        chunks, size = [], 0
        while True:  # read at most max_bytes + 1, whatever the file grows to meanwhile
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise InputRefused(f"is more than the limit of {max_bytes:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


_JSON_TOKENS = re.compile(r'\\.|[\[\]{}"\n]', re.S)  # an escape pair, a bracket, a quote or a newline


def json_depth_error(text: str, max_depth: int = MAX_DEPTH) -> tuple[str, int] | None:
    """(message, line) if JSON text nests deeper than `max_depth`, found without recursion; else None.

    Python's json parser recurses once per level: 100,000 levels raise RecursionError (or crash)."""
    depth, line, in_string = 0, 1, False
    for match in _JSON_TOKENS.finditer(text):  # only these tokens matter; the regex skips the rest in C
        token = match.group()
        if token == "\n":
            line += 1
        elif in_string:
            in_string = token != '"'  # an escape pair (\", \\) never closes the string
        elif token == '"':
            in_string = True
        elif token in "[{":
            depth += 1
            if depth > max_depth:
                return f"nested more than {max_depth} levels deep", line
        elif token in "]}":
            depth -= 1
    return None
