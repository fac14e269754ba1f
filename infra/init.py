"""compose.yml's one-shot ``init``: as the broker's operator, the SCRAM users, the topics
(explicitly) and the ACLs; then the Alembic migrations."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import psycopg
from aiokafka.errors import KafkaError, KafkaTimeoutError
from alembic import command
from alembic.config import Config
from confluent_kafka import KafkaException
from psycopg import sql
from sqlalchemy.exc import OperationalError
from tenacity import RetryCallState, retry, retry_if_exception, stop_after_delay, wait_fixed

from infra.compose.spec import ROLE_PASSWORDS
from infra.kafka import access, principals
from infra.paths import ROOT
from infra.settings import InitSettings
from shared.db import driver_url
from shared.kafka_auth import sign_in
from shared.secret_files import MissingSecret, env_secret, role_secret

T = TypeVar("T")


def migrate(admin_url: str) -> None:
    cfg = Config(str(ROOT / "infra" / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", driver_url(admin_url).replace("%", "%%"))
    command.upgrade(cfg, "heads")
    sync_role_passwords(admin_url)


def sync_role_passwords(admin_url: str) -> None:
    """Every existing role's password as today's rule makes it (given, else derived from the
    admin password): a cluster migrated when the local passwords were the roles' names gets
    random ones too, at its next start."""
    admin_password = urlsplit(admin_url).password or ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for var, role in ROLE_PASSWORDS.items():
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                password = role_secret(var, role, admin_password)
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )


def _transient(exc: BaseException) -> bool:
    """Worth another try: a broker or database that is up but still warming up (compose starts
    init once their healthchecks pass, which on a busy machine can be early)."""
    if isinstance(exc, KafkaError):
        return exc.retriable or isinstance(exc, KafkaTimeoutError)
    if isinstance(exc, KafkaException):  # librdkafka's (the operator's admin client)
        return bool(exc.args and getattr(exc.args[0], "retriable", lambda: False)())
    return isinstance(exc, OSError | TimeoutError | OperationalError | psycopg.OperationalError)


def _say_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    print(f"init: {exc!r}; trying again", flush=True)


def patiently(step: Callable[[], T], patience_s: float) -> T:
    """``step()``, retried every 2 s on transient errors for up to ``patience_s``."""
    return retry(
        retry=retry_if_exception(_transient),
        stop=stop_after_delay(patience_s),
        wait=wait_fixed(2),
        before_sleep=_say_retry,
        reraise=True,
    )(step)()


def scram_passwords() -> dict[str, str]:
    """Each SCRAM principal's password: ``<NAME>_KAFKA_PASSWORD``, else its ``_FILE``."""
    found = {p: env_secret(f"{p.upper()}_KAFKA_PASSWORD", "") for p in principals.SCRAM_USERS}
    missing = sorted(p for p, v in found.items() if not v)
    if missing:
        raise MissingSecret(f"no broker password for {', '.join(missing)}")
    return found


def run_init() -> None:
    s = InitSettings()  # type: ignore[call-arg]
    sign_in(s.kafka_auth)  # the operator
    passwords = scram_passwords()
    created = patiently(
        lambda: access.provision(
            s.kafka_bootstrap_servers, s.events_topic, s.partitions, s.replication, passwords
        ),
        s.patience_s,
    )
    print(f"topic {s.events_topic}: {'created' if created else 'exists'}; users and ACLs set")
    patiently(lambda: migrate(s.database_url), s.patience_s)
    print("migrations: at head")
