"""``/auth``: register, log in (with a TOTP second step when enabled), refresh, log out.

Tokens come back in the JSON body; web clients that ask (``use_cookies``) get them as
HttpOnly, SameSite=strict cookies too (``Secure`` when RWA_AUTH_SECURE_COOKIES), the refresh
cookie scoped to ``/auth``. These routes need no credentials: they are how one gets them.

No answer tells whether an email is registered: registration answers 202 with one body
either way, a failed login is one generic 401.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.accounts import audit, sessions, totp, users
from api.accounts.audit import Outcome
from api.accounts.schemas import (
    AcceptedOut,
    LoginIn,
    RefreshIn,
    RegisterIn,
    TokenPairOut,
    TwoFactorChallengeOut,
    TwoFactorIn,
)
from api.accounts.sessions import RefreshRefusedError, TokenPair
from api.accounts.tables import User
from api.accounts.tokens import InvalidTokenError, TokenType
from api.deps import (
    ACCESS_COOKIE,
    BAD_REQUEST,
    REFRESH_COOKIE,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    AccountsDep,
    Client,
    DbSession,
    unauthorized,
)
from api.security import metrics
from api.security.ratelimit import Throttle, ThrottlesDep

router = APIRouter(
    prefix="/auth", tags=["auth"], responses=BAD_REQUEST | UNAUTHORIZED | TOO_MANY_REQUESTS
)

REGISTERED = AcceptedOut(
    detail="If this email was free, the account now exists: log in with POST /auth/login."
)
LOGIN_FAILED = "invalid email or password"


def _address(client: Client) -> str:
    return client.address or "unknown"


def _answer(
    pair: TokenPair, response: Response, accounts: AccountsDep, use_cookies: bool
) -> TokenPairOut:
    if use_cookies:
        secure = accounts.auth.secure_cookies
        response.set_cookie(
            ACCESS_COOKIE,
            pair.access_token,
            max_age=pair.expires_in,
            httponly=True,
            secure=secure,
            samesite="strict",
        )
        response.set_cookie(
            REFRESH_COOKIE,
            pair.refresh_token,
            max_age=pair.refresh_expires_in,
            path="/auth",
            httponly=True,
            secure=secure,
            samesite="strict",
        )
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    summary="Create an account (explorer tier)",
)
def register(
    body: RegisterIn, session: DbSession, client: Client, throttles: ThrottlesDep
) -> AcceptedOut:
    """Always 202 with the same body, whether or not the email was taken, so the answer
    reveals no account; then log in. Every attempt counts against the throttle (429)."""
    throttles.hit(Throttle.REGISTER, account=body.email, client=_address(client))
    users.register(session, body.email, body.password, client)
    return REGISTERED


@router.post(
    "/login",
    response_model=TokenPairOut | TwoFactorChallengeOut,
    summary="Log in with email and password",
)
def login(
    body: LoginIn,
    response: Response,
    session: DbSession,
    accounts: AccountsDep,
    client: Client,
    throttles: ThrottlesDep,
) -> TokenPairOut | TwoFactorChallengeOut:
    """A token pair; or, when the account has TOTP enabled, a challenge to complete at
    POST /auth/verify-2fa. 401 for any wrong email, password or inactive account; 429 after
    too many failures for the account or from the address."""
    throttles.check(Throttle.LOGIN, account=body.email, client=_address(client))
    user = users.authenticate(session, body.email, body.password, client)
    if user is None:
        throttles.record_failure(Throttle.LOGIN, account=body.email, client=_address(client))
        metrics.count_login("failure")
        raise unauthorized(LOGIN_FAILED)
    if user.totp_enabled:
        challenge, _ = accounts.issuer.issue(user.id, TokenType.CHALLENGE)
        audit.record(
            session,
            "auth.login",
            Outcome.SUCCESS,
            client,
            actor_user_id=user.id,
            detail={"second_factor": "pending"},
        )
        session.commit()
        return TwoFactorChallengeOut(challenge_token=challenge)
    return _start_session(user, response, session, accounts, client, body.use_cookies)


def _start_session(
    user: User,
    response: Response,
    session: DbSession,
    accounts: AccountsDep,
    client: Client,
    use_cookies: bool,
) -> TokenPairOut:
    pair = sessions.start(session, accounts.issuer, user, client)
    audit.record(session, "auth.login", Outcome.SUCCESS, client, actor_user_id=user.id)
    session.commit()
    metrics.count_login("success")
    return _answer(pair, response, accounts, use_cookies)


@router.post("/verify-2fa", response_model=TokenPairOut, summary="Complete a login with TOTP")
def verify_two_factor(
    body: TwoFactorIn,
    response: Response,
    session: DbSession,
    accounts: AccountsDep,
    client: Client,
    throttles: ThrottlesDep,
) -> TokenPairOut:
    """The challenge of POST /auth/login and a fresh code of the authenticator app (a code
    is accepted once); 401 otherwise, 429 after too many wrong codes."""
    try:
        claims = accounts.issuer.decode(body.challenge_token, TokenType.CHALLENGE)
    except InvalidTokenError:
        raise unauthorized("invalid or expired challenge") from None
    user = session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise unauthorized("invalid or expired challenge")
    account = f"user:{user.id}"
    throttles.check(Throttle.TWO_FACTOR, account=account, client=_address(client))
    if not totp.verify_login_code(session, user, body.code):
        throttles.record_failure(Throttle.TWO_FACTOR, account=account, client=_address(client))
        audit.record(session, "auth.2fa", Outcome.FAILURE, client, actor_user_id=user.id)
        session.commit()
        metrics.count_login("failure")
        raise unauthorized("invalid code")
    audit.record(session, "auth.2fa", Outcome.SUCCESS, client, actor_user_id=user.id)
    return _start_session(user, response, session, accounts, client, body.use_cookies)


def _refresh_token(body: RefreshIn, request: Request) -> str:
    token = body.refresh_token or request.cookies.get(REFRESH_COOKIE)
    if token is None:
        raise unauthorized("no refresh token")
    return token


@router.post("/refresh", response_model=TokenPairOut, summary="Rotate the refresh token")
def refresh(
    body: RefreshIn,
    request: Request,
    response: Response,
    session: DbSession,
    accounts: AccountsDep,
    client: Client,
) -> TokenPairOut:
    """A new pair for a refresh token (from the body or the refresh cookie), which is then
    used up. Presenting a used token again revokes its whole session: 401."""
    try:
        pair = sessions.rotate(session, accounts.issuer, _refresh_token(body, request), client)
    except RefreshRefusedError:
        raise unauthorized("invalid, expired or reused refresh token") from None
    return _answer(pair, response, accounts, body.use_cookies)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End the session")
def logout(
    body: RefreshIn,
    request: Request,
    response: Response,
    session: DbSession,
    accounts: AccountsDep,
    client: Client,
) -> Response:
    """Revoke the session of a refresh token and clear the cookies; 204 also when the
    token was already invalid (logging out twice is no error)."""
    row = sessions.family_of(session, accounts.issuer, _refresh_token(body, request))
    if row is not None:
        sessions.revoke_family(session, row.family_id)
        audit.record(session, "auth.logout", Outcome.SUCCESS, client, actor_user_id=row.user_id)
        session.commit()
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(ACCESS_COOKIE)
    response.delete_cookie(REFRESH_COOKIE, path="/auth")
    return response
