"""Request dependencies: the unit of work and the authenticated principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from mpi_api.auth.service import Principal, resolve_key
from mpi_api.settings import Settings
from mpi_store.db import unit_of_work
from mpi_store.domain.enums import Scope
from mpi_store.domain.errors import Unauthorized


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is built, so a failed commit is never a 2xx.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def get_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    presented = bearer.credentials if bearer is not None else header_key
    if not presented:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'")
    settings: Settings = request.app.state.settings
    dev_key = settings.dev_api_key if settings.environment == "dev" else None
    with request.app.state.session_factory() as session:
        principal = resolve_key(session, presented=presented, dev_key=dev_key)
    if principal is None:
        raise Unauthorized("unknown or revoked API key")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def scoped(scope: Scope) -> object:
    def dependency(principal: PrincipalDep) -> Principal:
        principal.require(scope)
        return principal

    return Depends(dependency)


WriterDep = Annotated[Principal, scoped(Scope.RECORDS_WRITE)]
ReaderDep = Annotated[Principal, scoped(Scope.PATIENTS_READ)]
StewardDep = Annotated[Principal, scoped(Scope.LINKS_WRITE)]
AdminDep = Annotated[Principal, scoped(Scope.ADMIN)]
