"""The Quix Streams peer: one application (one consumer group) of the same fan-out.

Reads ``multi-app-events`` from earliest and writes every event to its own table with Quix's
``PostgreSQLSink`` (primary key ``event_id``, ``ON CONFLICT DO NOTHING``), at-least-once:
Quix flushes the sink at each checkpoint, then commits the offsets. Everything else is the
library's default. Runs in its own venv (requirements-quix.txt), so it imports nothing of ours:
``python infra/bench/peer/quix_app.py GROUP TABLE`` with KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL,
EVENTS_TOPIC and QUIX_STATE_DIR set; SIGTERM stops it (Quix handles it).
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

from quixstreams import Application
from quixstreams.sinks.community.postgresql import PostgreSQLSink

SCHEMA = "peer_quix"


def main() -> None:
    group, table = sys.argv[1], sys.argv[2]
    db = urlsplit(os.environ["DATABASE_URL"])
    # The broker authenticates every client (README: security): the bench's principal.
    sasl = {
        "security.protocol": os.environ.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        "sasl.mechanism": os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        "sasl.username": os.environ["KAFKA_USERNAME"],
        "sasl.password": os.environ["KAFKA_PASSWORD"],
    }
    app = Application(
        consumer_extra_config=sasl,
        producer_extra_config=sasl,
        broker_address=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        # Quix's default (5 s) unless the bench says otherwise (infra/bench/peers.py).
        commit_interval=float(os.environ.get("QUIX_COMMIT_INTERVAL", "5")),
        state_dir=os.environ["QUIX_STATE_DIR"],
        loglevel="WARNING",
    )
    sink = PostgreSQLSink(
        host=db.hostname or "127.0.0.1",
        port=db.port or 5432,
        dbname=db.path.lstrip("/"),
        user=db.username or "",
        password=db.password or "",
        table_name=table,
        schema_name=SCHEMA,
        primary_key_columns="event_id",
        on_conflict_do_nothing=True,
    )
    topic = app.topic(os.environ.get("EVENTS_TOPIC", "multi-app-events"), value_deserializer="json")
    app.dataframe(topic).sink(sink)
    app.run()


if __name__ == "__main__":
    main()
