"""API keys: generate, hash, and resolve a presented key to a principal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mpi_store.domain.enums import Scope
from mpi_store.domain.errors import Forbidden
from mpi_store.repositories import ApiKeyRepository

_KEY_PREFIX = "mpik_"


@dataclass(frozen=True)
class Principal:
    key_id: int | None
    name: str
    scopes: frozenset[str]
    allowed_sources: frozenset[str] | None
    # Lenient intake (`mpi keys create --lenient`): invalid optional fields are dropped.
    lenient: bool = False

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes and Scope.ADMIN not in self.scopes:
            raise Forbidden(f"this key lacks the '{scope}' scope")

    def require_source(self, source: str) -> None:
        if Scope.ADMIN in self.scopes or self.allowed_sources is None:
            return
        if source not in self.allowed_sources:
            raise Forbidden("this key may not write records for that source")


DEV_PRINCIPAL_NAME = "dev"


def generate_key() -> str:
    return _KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a fast hash cannot be brute-forced.
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    name: str,
    scopes: list[Scope],
    allowed_sources: list[str] | None,
    lenient: bool = False,
) -> tuple[int, str]:
    """Store a new key's hash; the plain key is returned once and never stored."""
    key = generate_key()
    row = ApiKeyRepository(session).add(
        name=name,
        key_hash=hash_key(key),
        scopes=sorted(str(s) for s in scopes),
        allowed_sources=sorted(allowed_sources) if allowed_sources is not None else None,
        lenient=lenient,
    )
    return row.id, key


def resolve_key(session: Session, *, presented: str, dev_key: str | None) -> Principal | None:
    if dev_key is not None and hmac.compare_digest(presented.encode(), dev_key.encode()):
        return Principal(None, DEV_PRINCIPAL_NAME, frozenset(Scope), None)
    row = ApiKeyRepository(session).get_active_by_hash(hash_key(presented))
    if row is None:
        return None
    sources = frozenset(row.allowed_sources) if row.allowed_sources is not None else None
    return Principal(row.id, row.name, frozenset(row.scopes), sources, lenient=row.lenient)
