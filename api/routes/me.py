"""``/me``: the signed-in user's own account: read it, change its password, export all its
data, delete it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from api.accounts import audit, sessions, users
from api.accounts.audit import Outcome
from api.accounts.principal import Scope
from api.accounts.schemas import (
    ExportOut,
    PasswordChangeIn,
    PasswordConfirmIn,
    TokenPairOut,
    UserOut,
)
from api.accounts.tables import User
from api.alerts import service as alert_rules
from api.deps import (
    BAD_REQUEST,
    FORBIDDEN,
    UNAUTHORIZED,
    AccountsDep,
    Authenticated,
    Client,
    DbSession,
    account_of,
)
from api.portfolios import service as portfolios

router = APIRouter(prefix="/me", tags=["account"], responses=BAD_REQUEST | UNAUTHORIZED | FORBIDDEN)


def _account(session: DbSession, principal: Authenticated, scope: Scope) -> User:
    return account_of(session, principal, scope)


def _reauthenticate(user: User, password: str, session: DbSession, client: Client) -> None:
    if not users.check_password(user, password):
        audit.record(session, "account.reauth", Outcome.FAILURE, client, actor_user_id=user.id)
        session.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="wrong password")


@router.get("", response_model=UserOut, summary="The signed-in account")
def me(session: DbSession, principal: Authenticated) -> UserOut:
    return UserOut.model_validate(_account(session, principal, Scope.READ_DATA))


@router.post("/password", response_model=TokenPairOut, summary="Change the password")
def change_password(
    body: PasswordChangeIn,
    session: DbSession,
    principal: Authenticated,
    accounts: AccountsDep,
    client: Client,
) -> TokenPairOut:
    """Needs the current password (403 if wrong). Ends every session and token of the
    account, this one included, and answers with a fresh token pair."""
    user = _account(session, principal, Scope.MANAGE_ACCOUNT)
    _reauthenticate(user, body.current_password, session, client)
    users.change_password(session, user, body.new_password, client)
    pair = sessions.start(session, accounts.issuer, user, client)
    session.commit()
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.get("/export", response_model=ExportOut, summary="All data of the account, as JSON")
def export(session: DbSession, principal: Authenticated, client: Client) -> ExportOut:
    """The account, its API keys, sessions, audit entries, alert rules and portfolios (with
    their transactions); never a secret or hash."""
    user = _account(session, principal, Scope.MANAGE_ACCOUNT)
    audit.record(session, "account.export", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    rules = [rule.model_dump(mode="json") for rule in alert_rules.rules_of(session, user.id)]
    owned = {"alert_rules": rules, "portfolios": portfolios.export(session, user.id)}
    return ExportOut.model_validate(users.export(session, user) | owned)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Delete the account")
def delete(
    body: PasswordConfirmIn,
    session: DbSession,
    principal: Authenticated,
    accounts: AccountsDep,
    client: Client,
) -> Response:
    """Needs the password (403 if wrong). Removes the account with its keys, sessions and
    recovery codes, alert rules and portfolios; its audit entries stay, under a
    pseudonym."""
    user = _account(session, principal, Scope.MANAGE_ACCOUNT)
    _reauthenticate(user, body.password, session, client)
    users.delete(session, user, accounts.key, client)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
