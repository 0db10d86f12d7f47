"""``rwa users …`` and the operational half of ``rwa db migrate``: account administration
from the command line, registered into ``rwa`` by :mod:`pipelines.cli`.

Heavy imports (SQLAlchemy, Argon2) happen when a command runs, so ``rwa --help`` stays fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from pipelines.core.errors import ConfigurationError

if TYPE_CHECKING:
    from api.accounts.service import Accounts
    from pipelines.core.settings import Settings

Handler = Callable[[Any, argparse.Namespace], int]
AddCommand = Callable[[str, Handler, str], argparse.ArgumentParser]

#: The tiers `--tier` takes; admins are made with `--admin`.
TIERS = ("explorer", "professional", "enterprise")
#: Shortest password accepted, as at POST /auth/register.
MIN_PASSWORD = 10


def _open(settings: Settings) -> Accounts:
    from api.accounts.service import Accounts

    return Accounts.open(settings.ops_db, settings.auth, settings.orchestration.deployment)


def migrate_ops_db(settings: Settings) -> str:
    """Migrate the operational database; returns its revision."""
    from api.accounts.database import OpsDatabase
    from api.accounts.migrate import upgrade

    database = OpsDatabase.open(settings.ops_db)
    try:
        return upgrade(database.engine)
    finally:
        database.close()


def _read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        password: str = args.password
    elif args.password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ConfigurationError("the passwords differ")
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"the password needs at least {MIN_PASSWORD} characters")
    return password


def _role(args: argparse.Namespace) -> Any:
    from api.accounts.principal import Role

    return Role.ADMIN if getattr(args, "admin", False) else Role(args.tier)


def _cmd_create(lakehouse: Any, args: argparse.Namespace) -> int:
    from pydantic import TypeAdapter, ValidationError

    from api.accounts import users
    from api.accounts.schemas import Email

    try:
        TypeAdapter(Email).validate_python(args.email)
    except ValidationError:
        raise ConfigurationError(f"not an email address: {args.email!r}") from None
    password = _read_password(args)
    accounts = _open(lakehouse.settings)
    try:
        with accounts.database.sessions() as session:
            if users.by_email(session, args.email) is not None:
                raise ConfigurationError(f"a user with email {args.email} exists already")
            user = users.create(session, args.email, password, _role(args))
            session.commit()
    finally:
        accounts.close()
    print(f"created user {user.id} {user.email} ({user.role})")
    return 0


def _cmd_list(lakehouse: Any, _: argparse.Namespace) -> int:
    from sqlalchemy import select

    from api.accounts.tables import User

    accounts = _open(lakehouse.settings)
    try:
        with accounts.database.sessions() as session:
            for user in session.scalars(select(User).order_by(User.id)):
                state = "active" if user.is_active else "inactive"
                twofa = " 2fa" if user.totp_enabled else ""
                print(f"{user.id:>6}  {user.email:<40} {user.role:<13} {state}{twofa}")
    finally:
        accounts.close()
    return 0


def _existing_user(session: Any, email: str) -> Any:
    from api.accounts import users

    user = users.by_email(session, email)
    if user is None:
        raise ConfigurationError(f"no user with email {email}")
    return user


def _cmd_set_tier(lakehouse: Any, args: argparse.Namespace) -> int:
    from api.accounts import audit
    from api.accounts.audit import ClientInfo, Outcome

    accounts = _open(lakehouse.settings)
    try:
        with accounts.database.sessions() as session:
            user = _existing_user(session, args.email)
            before, user.role = user.role, _role(args).value
            audit.record(
                session,
                "admin.user_update",
                Outcome.SUCCESS,
                ClientInfo(address="cli"),
                subject_user_id=user.id,
                detail={"role": {"from": before, "to": user.role}},
            )
            session.commit()
    finally:
        accounts.close()
    print(f"user {user.id} {user.email}: {before} -> {user.role}")
    return 0


def _add_tier_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--email", required=True, help="the user's email")
    tier = parser.add_mutually_exclusive_group(required=required)
    tier.add_argument("--tier", choices=TIERS, default="explorer", help="rate limits, features")
    tier.add_argument("--admin", action="store_true", help="admin: every tier's rights + users")


def add_account_commands(add: AddCommand) -> None:
    users = add("users", _cmd_list, "accounts of the API: create, list, change a tier")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a user (password prompted or --password)")
    create.set_defaults(handler=_cmd_create)
    _add_tier_options(create, required=False)
    given = create.add_mutually_exclusive_group()
    given.add_argument(
        "--password",
        help="the password (other local users can see it in the process list: prefer the "
        "prompt or --password-stdin)",
    )
    given.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    actions.add_parser("list", help="every user with tier and state").set_defaults(
        handler=_cmd_list
    )
    set_tier = actions.add_parser("set-tier", help="change a user's tier (or make them admin)")
    set_tier.set_defaults(handler=_cmd_set_tier)
    _add_tier_options(set_tier, required=True)
    _add_key_commands(add)


# --- rwa keys …, and the demo's key ------------------------------------------------------

#: The account `rwa demo` prints a key of (no password: it cannot log in, only its key works).
DEMO_EMAIL = "demo@rwa.localhost"
#: The dashboard login `rwa demo` prints: an admin of the local demo (every page, the status
#: page too), whose password each demo run replaces (ending the sessions of the one before).
DEMO_LOGIN_EMAIL = "analyst@rwa.localhost"
#: The name of the demo's key; a new demo run revokes the keys of that name before.
DEMO_KEY_NAME = "demo"
#: Longest key name, as at POST /me/keys.
MAX_KEY_NAME = 100


def _scopes(words: list[str]) -> Any:
    from api.accounts.principal import Scope

    return [Scope(word) for word in words]


def _operator_change() -> Any:
    from api.accounts.audit import ClientInfo
    from api.accounts.keys import Change

    return Change(ClientInfo(address="cli"), actor_user_id=None)


def _cmd_keys_create(lakehouse: Any, args: argparse.Namespace) -> int:
    from api.accounts import keys

    if not 1 <= len(args.name) <= MAX_KEY_NAME:
        raise ConfigurationError(f"--name needs 1 to {MAX_KEY_NAME} characters")
    expires_at = None
    if args.expires_in_days is not None:
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_in_days)
    accounts = _open(lakehouse.settings)
    try:
        with accounts.database.sessions() as session:
            user = _existing_user(session, args.email)
            scopes = _scopes(args.scopes)
            change = _operator_change()
            row, raw = keys.create(session, user.id, args.name, scopes, change, expires_at)
            session.commit()
    except keys.TooManyKeysError as error:
        raise ConfigurationError(str(error)) from None
    finally:
        accounts.close()
    print(f"API key {row.id} '{row.name}' of {user.email} ({row.scopes}); shown this once:")
    print(raw)
    return 0


def issue_demo_key(settings: Settings) -> str:
    """A fresh key of the demo account (created, professional tier, on first use), read-only;
    the demo keys issued before are revoked, so only the last one printed works."""
    from sqlalchemy import select

    from api.accounts import keys, users
    from api.accounts.principal import Role, Scope
    from api.accounts.tables import ApiKey

    change = _operator_change()
    accounts = _open(settings)
    try:
        with accounts.database.sessions() as session:
            user = users.by_email(session, DEMO_EMAIL)
            if user is None:
                # A random password nobody knows: the account is reached through its key.
                password = secrets.token_urlsafe(32)
                user = users.create(session, DEMO_EMAIL, password, Role.PROFESSIONAL)
            earlier = select(ApiKey.id).where(
                ApiKey.user_id == user.id, ApiKey.name == DEMO_KEY_NAME
            )
            for key_id in session.scalars(earlier).all():
                keys.revoke(session, user.id, key_id, change)
            _, raw = keys.create(session, user.id, DEMO_KEY_NAME, [Scope.READ_DATA], change)
            session.commit()
    finally:
        accounts.close()
    return raw


def issue_demo_login(settings: Settings) -> str:
    """A fresh password of the demo's dashboard login (created as an admin on first use)."""
    from api.accounts import users
    from api.accounts.audit import ClientInfo
    from api.accounts.principal import Role

    password = secrets.token_urlsafe(12)
    accounts = _open(settings)
    try:
        with accounts.database.sessions() as session:
            user = users.by_email(session, DEMO_LOGIN_EMAIL)
            if user is None:
                users.create(session, DEMO_LOGIN_EMAIL, password, Role.ADMIN)
            else:
                users.change_password(session, user, password, ClientInfo(address="cli"))
            session.commit()
    finally:
        accounts.close()
    return password


def print_demo_key(settings: Settings, out: TextIO) -> None:
    """End of `rwa demo`: a ready key and the command that uses it, and the dashboard's URL
    with a login."""
    raw = issue_demo_key(settings)
    password = issue_demo_login(settings)
    url = f"http://{settings.api.host}:{settings.api.port}"
    print(f"\nAPI key of {DEMO_EMAIL} (professional tier, read:data; each demo run", file=out)
    print("revokes the previous demo key). Start the API with `rwa serve`, then:", file=out)
    print(f"  export RWA_API_KEY={raw}", file=out)
    print(f'  curl -H "Authorization: Bearer $RWA_API_KEY" {url}/assets/btc', file=out)
    print(f"Dashboard: {url}/dashboard, log in as {DEMO_LOGIN_EMAIL} with", file=out)
    print(f"  password {password}", file=out)
    print("(an admin of this local demo; each demo run sets a new password).", file=out)


def _positive_days(text: str) -> int:
    days = int(text)
    if days < 1:
        raise argparse.ArgumentTypeError(f"needs a positive number of days, not {text}")
    return days


def _add_key_commands(add: AddCommand) -> None:
    from api.accounts.principal import Scope

    parser = add("keys", _cmd_keys_create, "API keys of a user: create one (printed once)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create an API key for a user and print it once")
    create.set_defaults(handler=_cmd_keys_create)
    create.add_argument("--email", required=True, help="the user's email")
    create.add_argument("--name", required=True, help="a label to tell keys apart")
    create.add_argument(
        "--scopes",
        nargs="+",
        choices=[scope.value for scope in Scope],
        default=[Scope.READ_DATA.value],
        help="what the key may do (default: read:data; manage:account manages the account)",
    )
    create.add_argument(
        "--expires-in-days",
        type=_positive_days,
        metavar="N",
        help="the key stops working after N days",
    )
