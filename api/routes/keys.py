"""``/me/keys``: the signed-in user's API keys: create one (its value shown once), list them,
revoke one. Managing keys needs the ``manage:account`` scope: a key without it (a read-only
key) cannot mint or revoke keys (403 naming the scope)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status

from api.accounts import keys
from api.accounts.schemas import ApiKeyCreatedOut, ApiKeyIn, ApiKeyOut
from api.deps import FORBIDDEN, UNAUTHORIZED, Client, DbSession, ManagedAccount
from api.schemas import ErrorOut

router = APIRouter(prefix="/me/keys", tags=["account"], responses=UNAUTHORIZED | FORBIDDEN)

#: A key's id (a 32-bit integer column on PostgreSQL: larger values cannot name a key).
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The key's id, as listed.")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreatedOut,
    responses={
        status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "Too many active keys."}
    },
    summary="Create an API key (its value is shown once)",
)
def create_key(
    body: ApiKeyIn, session: DbSession, user: ManagedAccount, client: Client
) -> ApiKeyCreatedOut:
    """The key's value is in ``key`` of this answer only: it is stored hashed and cannot be
    shown again. Use it as ``Authorization: Bearer rwa_…`` or ``X-API-Key: rwa_…``."""
    expires_at = None
    if body.expires_in_days is not None:
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=body.expires_in_days)
    try:
        change = keys.Change(client, actor_user_id=user.id)
        row, raw = keys.create(session, user.id, body.name, body.scopes, change, expires_at)
    except keys.TooManyKeysError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
    session.commit()
    return ApiKeyCreatedOut(**ApiKeyOut.model_validate(row).model_dump(), key=raw)


@router.get("", response_model=list[ApiKeyOut], summary="List the account's API keys")
def list_keys(session: DbSession, user: ManagedAccount) -> list[ApiKeyOut]:
    """Every key, revoked and expired ones included; never a key's value."""
    return [ApiKeyOut.model_validate(row) for row in keys.list_keys(session, user.id)]


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such key."}},
    summary="Revoke an API key",
)
def revoke_key(key_id: KeyId, session: DbSession, user: ManagedAccount, client: Client) -> Response:
    """The key is refused from now on (401); it stays listed, with its revocation time.
    Revoking a revoked key answers 204 again."""
    row = keys.revoke(session, user.id, key_id, keys.Change(client, actor_user_id=user.id))
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no API key {key_id}")
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
