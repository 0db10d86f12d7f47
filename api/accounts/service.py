"""What the API keeps open for accounts, once per process: the operational database
(migrated at start-up), the token issuer and the signing key."""

from __future__ import annotations

from dataclasses import dataclass

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
        return cls(database=database, issuer=TokenIssuer(key, auth), key=key, auth=auth)

    def close(self) -> None:
        self.database.close()
