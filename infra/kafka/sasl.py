"""The broker's authentication and authorization properties (README: security), as the
local runner writes them; compose.yml sets the same ones as KAFKA_* variables."""

from __future__ import annotations

from infra.kafka import principals
from infra.kafka.credentials import CredentialStore

AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def _plain(user: str, password: str, *accepted: tuple[str, str]) -> str:
    """A PLAIN login (``user``, as a client of this listener) and the users it accepts."""
    users = "".join(f' user_{u}="{p}"' for u, p in accepted)
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{password}"{users};'
    )


def security_properties(store: CredentialStore, listeners: list[str]) -> dict[str, str]:
    """SASL on every listener and the StandardAuthorizer (README: security). Clients sign in
    with SCRAM-SHA-512 (users in the metadata log, made by the operator); PLAIN with static
    users serves what must work before any SCRAM user exists: the controller listener (a
    Kafka committer's advice, KAFKA-15513), the brokers between themselves and the operator."""
    pw = {name: store.password(name) for name in principals.STATIC}
    props = {
        "listener.security.protocol.map": ",".join(
            f"{name}:SASL_PLAINTEXT" for name in ["CONTROLLER", *listeners]
        ),
        "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _plain(
            principals.CONTROLLER, pw["controller"], (principals.CONTROLLER, pw["controller"])
        ),
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": ";".join(f"User:{name}" for name in principals.STATIC),
    }
    for name in listeners:
        low = name.lower()
        props[f"listener.name.{low}.sasl.enabled.mechanisms"] = "SCRAM-SHA-512,PLAIN"
        props[f"listener.name.{low}.plain.sasl.jaas.config"] = _plain(
            principals.BROKER,
            pw["broker"],
            (principals.BROKER, pw["broker"]),
            (principals.OPERATOR, pw["operator"]),
        )
        props[f"listener.name.{low}.scram-sha-512.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
    return props
