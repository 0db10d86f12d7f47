"""Request and response schemas of the account endpoints (auth, me, admin)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from api.accounts.keys import decode_scopes
from api.accounts.principal import Role, Scope

#: A plausible address (one @, a dot in the domain); stored lower-case. Deliverability is
#: not checked: there is no mail in this product yet.
Email = Annotated[
    str,
    StringConstraints(
        max_length=320,
        # No space or ASCII control character (PostgreSQL refuses NUL in text). Spelt out, not
        # `\s`, which means more in Python than in the document's (ECMAScript) regexes.
        pattern=r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$",
    ),
]
#: Long enough to resist guessing, short enough that hashing it is no denial of service.
NewPassword = Annotated[str, Field(min_length=10, max_length=128)]
Password = Annotated[str, Field(min_length=1, max_length=128)]
Token = Annotated[str, Field(min_length=1, max_length=4096)]
#: A 6-digit TOTP code or a recovery code (XXXX-XXXX-XXXX-XXXX).
TotpOrRecoveryCode = Annotated[
    str, Field(min_length=6, max_length=32, description="A TOTP code or a recovery code.")
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_In):
    email: Email
    password: NewPassword


class LoginIn(_In):
    email: Email
    password: Password
    #: Web clients: also set the tokens as HttpOnly, SameSite=strict cookies.
    use_cookies: StrictBool = False


class TwoFactorIn(_In):
    challenge_token: Token
    code: Annotated[str, Field(min_length=6, max_length=32)]
    use_cookies: StrictBool = False


class RefreshIn(_In):
    #: Optional when the refresh cookie is sent instead.
    refresh_token: Token | None = None
    use_cookies: StrictBool = False


class PasswordChangeIn(_In):
    current_password: Password
    new_password: NewPassword


class PasswordConfirmIn(_In):
    password: Password


class AcceptedOut(BaseModel):
    detail: str


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token lives.")
    refresh_expires_in: int


class TwoFactorChallengeOut(BaseModel):
    two_factor_required: Literal[True] = True
    challenge_token: str = Field(description="Give it to POST /auth/verify-2fa with a code.")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: Role
    is_active: bool
    created_at: dt.datetime
    totp_enabled: bool


class UserPatchIn(_In):
    role: Role | None = None
    is_active: StrictBool | None = None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    action: str
    outcome: str
    actor_user_id: int | None
    actor_pseudonym: str | None
    subject_user_id: int | None
    subject_pseudonym: str | None
    client_address: str | None
    user_agent: str | None
    detail: dict[str, Any] | None


class ExportOut(BaseModel):
    account: dict[str, Any]
    api_keys: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    audit_log: list[dict[str, Any]]
    alert_rules: list[dict[str, Any]] = Field(
        default_factory=list, description="The account's alert rules, as /alerts/rules shows them."
    )
    portfolios: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The account's portfolios, each with its transactions (transaction_list).",
    )


# --- API keys and TOTP 2FA (api.routes.keys, api.routes.two_factor) ------------------------


def _json_integer(value: object) -> object:
    """An integer as JSON Schema has it: 3 or 3.0, never "3" or true (which pydantic's lax
    mode would take); None passes, for optional fields."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


#: A key's label: any text without control characters (not stripped: what the document
#: accepts, the server keeps).
KeyName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class ApiKeyIn(_In):
    name: KeyName = Field(description="A label to tell keys apart, e.g. 'notebook on my laptop'.")
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))] = Field(
        default_factory=lambda: [Scope.READ_DATA],
        description="read:data reads the data routes; manage:account also manages the "
        "account (keys, password, 2FA, deletion). Default: read:data only.",
    )
    expires_in_days: Annotated[int, Field(ge=1, le=3650)] | None = Field(
        default=None, description="Days until the key stops working; default: never."
    )

    _integer_days = field_validator("expires_in_days", mode="before")(_json_integer)


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The public part of the key (rwa_<prefix>_…).")
    scopes: list[Scope]
    created_at: dt.datetime
    last_used_at: dt.datetime | None = Field(description="Kept to the minute.")
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @field_validator("scopes", mode="before")
    @classmethod
    def _stored_scopes(cls, value: object) -> object:
        # The table keeps them space-separated.
        return sorted(decode_scopes(value)) if isinstance(value, str) else value


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, stored only hashed.")


class TwoFactorEnrolmentOut(BaseModel):
    secret: str = Field(description="Base32 secret, for apps that cannot scan the QR code.")
    otpauth_uri: str = Field(description="The otpauth://totp/… URI an authenticator loads.")
    qr_svg: str = Field(description="The URI as a QR code, an SVG document.")


class TwoFactorCodeIn(_In):
    code: TotpOrRecoveryCode


class TwoFactorDisableIn(_In):
    password: Password
    code: TotpOrRecoveryCode


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="One-time codes, each usable once in place of a TOTP code; shown once."
    )
