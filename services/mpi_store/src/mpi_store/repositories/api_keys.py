"""API keys by hash."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mpi_store.models import ApiKey


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        name: str,
        key_hash: str,
        scopes: list[str],
        allowed_sources: list[str] | None,
        lenient: bool = False,
    ) -> ApiKey:
        key = ApiKey(
            name=name,
            key_hash=key_hash,
            scopes=scopes,
            allowed_sources=allowed_sources,
            lenient=lenient,
        )
        self.session.add(key)
        self.session.flush()
        return key

    def get_active_by_hash(self, key_hash: str) -> ApiKey | None:
        return self.session.scalar(
            select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )

    def all(self) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).order_by(ApiKey.id)))

    def revoke(self, key_id: int) -> bool:
        """Revoke an active key; False if there is no active key with that id."""
        revoked = self.session.scalar(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC))
            .returning(ApiKey.id)
        )
        return revoked is not None
