"""``/alerts``: the signed-in user's alert rules, and plain-language sentences read as rules.

Reading rules and parsing sentences need ``read:data``; creating, changing and deleting them
need ``manage:account``: a rule sends data to the addresses it names, so a read-only API key
must not be able to add one. A rule of another user answers 404, like one that never existed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.accounts import audit
from api.accounts.audit import ClientInfo, Outcome
from api.accounts.principal import Role, Scope
from api.accounts.tables import User
from api.alerts import firings, service
from api.alerts.firings import FiringPage
from api.alerts.parsing import MAX_TEXT, NotUnderstoodError, ParsedRule, parse_rule
from api.alerts.rules import Rule, RulePage, RulePatch, RuleSpec
from api.deps import Authenticated, Client, DbSession, Responses, account_of
from api.schemas import ErrorOut, QueryInstant
from api.security.tiers import Cap, cap_reached, tier_of

router = APIRouter(prefix="/alerts", tags=["alerts"])

#: A rule's id (a 32-bit integer column on PostgreSQL: larger values cannot name a rule).
RuleId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The rule's id, as listed.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="How many to skip.")]

NOT_FOUND: Responses = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such rule of yours."}
}


def reader(session: DbSession, principal: Authenticated) -> User:
    return account_of(session, principal, Scope.READ_DATA)


def writer(session: DbSession, principal: Authenticated) -> User:
    return account_of(session, principal, Scope.MANAGE_ACCOUNT)


Reader = Annotated[User, Depends(reader)]
Writer = Annotated[User, Depends(writer)]


class ParseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT,
        description="The alert in words.",
        examples=["tell me if USDC drops below 0.995"],
    )


def _audit(session: Session, action: str, client: ClientInfo, user: User, rule_id: int) -> None:
    """Rules decide where data is sent (webhooks, addresses): their changes are audited."""
    audit.record(
        session, action, Outcome.SUCCESS, client, actor_user_id=user.id, detail={"rule_id": rule_id}
    )


def _not_found(rule_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert rule {rule_id}")


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=Rule,
    responses={
        status.HTTP_403_FORBIDDEN: {
            "model": ErrorOut,
            "description": "The tier's number of rules is reached, or the credential lacks "
            "manage:account.",
        }
    },
    summary="Create an alert rule",
)
def create_rule(body: RuleSpec, session: DbSession, user: Writer, client: Client) -> Rule:
    """How many rules a user may own (active or paused) depends on the tier; see
    docs/security.md."""
    role = Role(user.role)
    try:
        row = service.create(session, user.id, body, tier_of(role).alert_rules)
    except service.RuleLimitError:
        raise cap_reached(role, Cap.ALERT_RULES) from None
    _audit(session, "alert_rule.create", client, user, row.id)
    session.commit()
    return service.to_rule(row)


@router.get("/rules", response_model=RulePage, summary="List your alert rules")
def list_rules(
    session: DbSession, user: Reader, limit: Limit = 100, offset: Offset = 0
) -> RulePage:
    total, rows = service.page(session, user.id, limit, offset)
    return RulePage(
        total=total, limit=limit, offset=offset, rules=[service.to_rule(r) for r in rows]
    )


@router.get("/rules/{rule_id}", response_model=Rule, responses=NOT_FOUND, summary="One rule")
def get_rule(rule_id: RuleId, session: DbSession, user: Reader) -> Rule:
    row = service.get(session, user.id, rule_id)
    if row is None:
        raise _not_found(rule_id)
    return service.to_rule(row)


@router.patch("/rules/{rule_id}", response_model=Rule, responses=NOT_FOUND, summary="Change a rule")
def update_rule(
    rule_id: RuleId, body: RulePatch, session: DbSession, user: Writer, client: Client
) -> Rule:
    """Only the fields given change (``{"active": false}`` pauses the rule); the result must
    be a valid rule as a whole (a peg alert stays on a stablecoin), else 409."""
    row = service.get(session, user.id, rule_id)
    if row is None:
        raise _not_found(rule_id)
    try:
        service.update(row, body)
    except service.RuleConflictError as error:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from None
    _audit(session, "alert_rule.update", client, user, rule_id)
    session.commit()
    return service.to_rule(row)


@router.delete(
    "/rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
    summary="Delete a rule",
)
def delete_rule(rule_id: RuleId, session: DbSession, user: Writer, client: Client) -> Response:
    if not service.delete(session, user.id, rule_id):
        raise _not_found(rule_id)
    _audit(session, "alert_rule.delete", client, user, rule_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/firings", response_model=FiringPage, summary="Your rules' firings")
def list_firings(
    session: DbSession,
    user: Reader,
    rule_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="Only this rule's firings.")
    ] = None,
    since: Annotated[
        QueryInstant | None,
        Query(description="Only firings at or after this instant (a date: its midnight UTC)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    offset: Offset = 0,
) -> FiringPage:
    """Newest first, each with the served values that fired it (what its notifications and
    its ``alert_triggered`` event tell)."""
    total, page = firings.page(
        session, user.id, rule_id=rule_id, since=since, limit=limit, offset=offset
    )
    return FiringPage(total=total, limit=limit, offset=offset, firings=list(page))


@router.post(
    "/parse",
    response_model=ParsedRule,
    summary="Read an alert written in plain language",
)
def parse(body: ParseIn, session: DbSession, user: Reader) -> ParsedRule:
    """The structured rule the sentence describes, for confirmation: nothing is saved (send
    ``rule`` to POST /alerts/rules). "email me" uses the account's address.

    A sentence that is not understood answers 422: the error's ``ctx`` names the part
    (``not_understood``, ``position``), what was ``expected`` there, and an ``example`` that
    works."""
    try:
        return parse_rule(body.text, email=user.email)
    except NotUnderstoodError as error:
        detail: list[dict[str, Any]] = [
            {
                "loc": ["body", "text"],
                "msg": error.message,
                "type": "not_understood",
                "input": body.text,
                "ctx": error.context(),
            }
        ]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail) from None
