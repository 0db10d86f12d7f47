"""``/admin``: user management and the audit log, for admins only (403 for anyone else)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import Field
from sqlalchemy import select

from api.accounts import audit, sessions
from api.accounts.audit import AuditFilter, Outcome
from api.accounts.principal import Role, Scope
from api.accounts.schemas import AuditEntryOut, UserOut, UserPatchIn
from api.accounts.tables import User
from api.deps import (
    BAD_REQUEST,
    FORBIDDEN,
    UNAUTHORIZED,
    AdminOnly,
    Client,
    DbSession,
    admin_only,
    requires_scope,
)
from api.schemas import ErrorOut, QueryInstant

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    dependencies=[Depends(admin_only), requires_scope(Scope.MANAGE_ACCOUNT)],
    responses=BAD_REQUEST | UNAUTHORIZED | FORBIDDEN,
)

#: Ids fit the 32-bit INTEGER of PostgreSQL (and SQLite's 64-bit one).
UserId = Annotated[int, Field(ge=1, le=2_147_483_647)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")]


@router.get("/users", response_model=list[UserOut], summary="List users")
def list_users(
    session: DbSession,
    role: Annotated[Role | None, Query(description="Only users of this role.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[UserOut]:
    query = select(User).order_by(User.id).limit(limit).offset(offset)
    if role is not None:
        query = query.where(User.role == role.value)
    return [UserOut.model_validate(user) for user in session.scalars(query)]


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses={
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such user."},
        status.HTTP_409_CONFLICT: {
            "model": ErrorOut,
            "description": "An admin cannot demote or deactivate themselves.",
        },
    },
    summary="Change a user's role (tier) or deactivate them",
)
def update_user(
    user_id: Annotated[UserId, Path()],
    body: UserPatchIn,
    session: DbSession,
    admin: AdminOnly,
    client: Client,
) -> UserOut:
    """A deactivated user's sessions end and their credentials are refused at once. An
    admin cannot demote or deactivate themselves (409), so the last admin stays one."""
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"user {user_id} not found")
    if user.id == admin.user_id and (
        body.is_active is False or body.role not in (None, Role.ADMIN)
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="an admin cannot demote or deactivate themselves"
        )
    changes: dict[str, object] = {}
    if body.role is not None and body.role.value != user.role:
        changes["role"] = {"from": user.role, "to": body.role.value}
        user.role = body.role.value
    if body.is_active is not None and body.is_active != user.is_active:
        changes["is_active"] = body.is_active
        user.is_active = body.is_active
        if not body.is_active:
            sessions.revoke_all(session, user.id)
    if changes:
        audit.record(
            session,
            "admin.user_update",
            Outcome.SUCCESS,
            client,
            actor_user_id=admin.user_id,
            subject_user_id=user.id,
            detail=changes,
        )
        session.commit()
    return UserOut.model_validate(user)


@router.get("/audit", response_model=list[AuditEntryOut], summary="Read the audit log")
def read_audit_log(
    session: DbSession,
    action: Annotated[
        str | None, Query(max_length=64, pattern=r"^[a-z0-9_.]+$", description="e.g. auth.login")
    ] = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    user_id: Annotated[UserId | None, Query(description="Entries by or about this user.")] = None,
    since: Annotated[QueryInstant | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[QueryInstant | None, Query(description="Before this time.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AuditEntryOut]:
    """Newest first."""
    where = AuditFilter(
        action=action,
        outcome=outcome.value if outcome is not None else None,
        user_id=user_id,
        since=since,
        until=until,
    )
    return [AuditEntryOut.model_validate(e) for e in audit.entries(session, where, limit, offset)]
