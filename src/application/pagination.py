"""Cursor pages of a list: ``limit`` rows after the row ``after``, oldest first.

Rows are ordered by id: ids are time-ordered (UUIDv7), so a row inserted while a client
pages through a list lands after every row it has seen, and no page shifts under it. The
lists are those of one tenant (its credentials, hubs, webhooks, ...), read whole and cut
here, one implementation for all of them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from domain.errors import FieldErrors

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=HasId)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next: str | None  # the ``after`` of the next page; ``None`` on the last


def page_size(limit: int | None) -> int:
    """The page size asked for, or the default; 400 outside 1 to ``MAX_LIMIT``."""
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        errors = FieldErrors()
        errors.add("limit", f"must be from 1 to {MAX_LIMIT}")
        errors.raise_if_any()
    return size


def page_of(rows: Sequence[T], limit: int | None, after: str | None) -> Page[T]:
    size = page_size(limit)
    ordered = sorted(rows, key=lambda row: row.id)
    if after:
        ordered = [row for row in ordered if row.id > after]
    items = ordered[:size]
    return Page(items, items[-1].id if len(ordered) > size else None)
