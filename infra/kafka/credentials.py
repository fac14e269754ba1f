"""The local runner's broker passwords: random per stack, one mode-600 file per principal in
``<stack>/kafka/credentials`` (a mode-700 folder), never printed in full. Beside them, the
learner's client configuration for kafka-python, Kafka's console tools and kcat."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from infra.kafka import principals
from shared.kafka_auth import KafkaAuth, sign_in


def write_private(path: Path, text: str) -> None:
    """``path`` with ``text``, mode 600 from the start; a link planted there is replaced,
    never followed."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


def mask(password: str) -> str:
    """Enough to recognise a password, too little to use it."""
    return f"{password[:4]}…({len(password)} chars)"


class CredentialStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, principal: str) -> Path:
        return self.folder / f"{principal}.password"

    def password(self, principal: str) -> str:
        """The principal's password, made (32 hex digits) on first use."""
        path = self.path(principal)
        if path.is_file() and not path.is_symlink():
            value = path.read_text().strip()
            if value:
                return value
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        value = secrets.token_hex(16)
        write_private(path, value + "\n")
        return value

    def auth(self, principal: str) -> KafkaAuth:
        if principal in principals.STATIC:
            return KafkaAuth(principal, self.password(principal), "PLAIN")
        return KafkaAuth(principal, self.password(principal))

    def passwords(self, names: tuple[str, ...] = principals.SCRAM_USERS) -> dict[str, str]:
        return {name: self.password(name) for name in names}

    def write_snippets(self, bootstrap: str) -> list[Path]:
        """The learner's client configurations, next to its password."""
        written = []
        for name, text in snippets(self.auth(principals.LEARNER), bootstrap).items():
            write_private(self.folder / name, text)
            written.append(self.folder / name)
        return written


def sign_in_operator(stack_home: Path) -> bool:
    """Sign this process in as the operator of the local stack in ``stack_home`` (a folder
    of .state), when its password is there and readable; True if signed in."""
    store = CredentialStore(stack_home / "kafka" / "credentials")
    try:
        if not store.path(principals.OPERATOR).is_file():
            return False
        sign_in(store.auth(principals.OPERATOR))
    except OSError:
        return False
    return True


def snippets(auth: KafkaAuth, bootstrap: str) -> dict[str, str]:
    """One configuration per tool, for ``auth`` on ``bootstrap`` (file name: text)."""
    group = f"{principals.LEARNER_GROUP_PREFIX}me"
    return {
        f"{auth.username}.properties": (
            "# kafka-console-consumer.sh --consumer.config THIS --group "
            f"{group} ... (also --producer.config, --command-config)\n"
            f"bootstrap.servers={bootstrap}\n"
            f"security.protocol={auth.protocol}\n"
            f"sasl.mechanism={auth.mechanism}\n"
            f"sasl.jaas.config={auth.jaas()}\n"
        ),
        f"{auth.username}-kcat.conf": (
            f"# kcat -F THIS -C -t multi-app-events -G {group} ... (librdkafka >= 2.6.1)\n"
            f"bootstrap.servers={bootstrap}\n"
            f"security.protocol={auth.protocol}\n"
            f"sasl.mechanisms={auth.mechanism}\n"
            f"sasl.username={auth.username}\n"
            f"sasl.password={auth.password}\n"
        ),
        f"{auth.username}_kafka_python.py": (
            '"""kafka-python: KafkaConsumer("multi-app-events", group_id="'
            f'{group}", **CONFIG); KafkaProducer(**CONFIG)."""\n\n'
            "CONFIG = {\n"
            f'    "bootstrap_servers": "{bootstrap}",\n'
            f'    "security_protocol": "{auth.protocol}",\n'
            f'    "sasl_mechanism": "{auth.mechanism}",\n'
            f'    "sasl_plain_username": "{auth.username}",\n'
            f'    "sasl_plain_password": "{auth.password}",\n'
            "}\n"
        ),
    }
