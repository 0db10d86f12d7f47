"""What the API keeps open for accounts, once per process: the operational database
(migrated at start-up), the token issuer and the signing key."""

from __future__ import annotations

from dataclasses import dataclass

from api.accounts.credentials import PrincipalCache
from api.accounts.database import OpsDatabase
from api.accounts.migrate import upgrade
from api.accounts.tokens import TokenIssuer, signing_key
from pipelines.core.settings import AuthSettings, OpsDbSettings


@dataclass
class Accounts:
    database: OpsDatabase
    issuer: TokenIssuer
    #: The signing key; also keys the pseudonyms of deleted users in the audit log.
    key: bytes
    auth: AuthSettings
    #: Who recently presented which credential (see api.accounts.credentials).
    principals: PrincipalCache

    @classmethod
    def open(cls, ops_db: OpsDbSettings, auth: AuthSettings, deployment: str) -> Accounts:
        """Load the key (failing fast when production lacks one), then migrate the database."""
        key = signing_key(auth, deployment)
        database = OpsDatabase.open(ops_db)
        try:
            upgrade(database.engine)
        except BaseException:
            database.close()
            raise
        principals = PrincipalCache(auth.cache_seconds)
        principals.watch(database.sessions)
        return cls(
            database=database,
            issuer=TokenIssuer(key, auth),
            key=key,
            auth=auth,
            principals=principals,
        )

    def close(self) -> None:
        self.database.close()
