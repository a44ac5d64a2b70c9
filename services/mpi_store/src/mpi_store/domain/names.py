"""Given-name aliases (nicknames and their canonical names), shared by matching and guards."""

from __future__ import annotations

from functools import lru_cache

from nicknames import NickNamer


@lru_cache(maxsize=1)
def _nick_namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=50_000)
def name_aliases(given: str | None) -> tuple[str, ...] | None:
    """The name plus the canonical names it is a nickname of: "bill" -> (bill, william, ...)."""
    if given is None:
        return None
    first = given.split(" ")[0]
    return tuple(sorted({given, first, *_nick_namer().canonicals_of(first)}))
