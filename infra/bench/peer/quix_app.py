"""The Quix Streams peer: one application (one consumer group) of the same fan-out.

Reads ``multi-app-events`` from earliest and writes every event to its own table with Quix's
``PostgreSQLSink`` (primary key ``event_id``, ``ON CONFLICT DO NOTHING``), at-least-once:
Quix flushes the sink at each checkpoint, then commits the offsets. Runs in its own venv
(requirements-quix.txt), so it imports nothing of ours:
``python infra/bench/peer/quix_app.py GROUP TABLE`` with KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL,
EVENTS_TOPIC and QUIX_STATE_DIR set; SIGTERM stops it (Quix handles it).

Its two forms (infra/bench/peers.py says which variables each sets):

- ``quix``: the library's defaults, the whole JSON value sunk, the 5 s commit interval;
- ``quix-tuned``: the settings below chosen for speed. Unset, each is Quix's default:
  QUIX_COMMIT_INTERVAL (s), QUIX_COMMIT_EVERY (messages), QUIX_COLUMNS (comma-separated: the
  columns sunk; empty: the whole value), QUIX_INCLUDE_METADATA (0: no ``__key``/``timestamp``
  columns), QUIX_CONSUMER_<NAME> (librdkafka's ``name``, dots as underscores, into
  ``consumer_extra_config``: QUIX_CONSUMER_FETCH_MIN_BYTES sets ``fetch.min.bytes``).

How ``quix-tuned`` was chosen (``python -m infra.bench.sweep``, 2-core machine shared with other
work; median of 2 rounds, CPU µs per fanned-out event = the three apps + broker + PostgreSQL):

Backlog 200,000 events (at 50,000 the 5 s interval loses more: its last checkpoint is idle time);
events/s, CPU µs per event, each step on top of the one before:

- defaults (whole value, ``__key``/``timestamp`` columns, 5 s): 8,317/s, 170 µs;
- + projection to the 5 columns (only ``schema_version`` is dropped): 8,369/s, 181 µs, no gain;
- + ``include_metadata=False`` (two columns fewer per row): 9,434/s, 147 µs;
- + ``commit_interval`` 1 s: 11,292/s, 132 µs;
- + fetch.min.bytes 1 MiB, max.partition.fetch.bytes 8 MiB, queued.max.messages.kbytes
  256 MiB: 10,733/s, 135 µs, no gain;
- ``commit_every`` 10,000 with the 5 s interval instead of 1 s: 10,306/s, 135 µs;
- a second sweep, ``commit_interval`` 0.5 s / 1 s / 2 s: 10,938 / 10,615 / 10,762/s, 131 / 131 /
  130 µs: alike.

Won: the projection (kept: it is what the ceiling sinks), no metadata columns, a 1 s interval
(0.5–2 s are alike; 5 s flushes the sink in large pauses and idles at the end). The fetch sizes
change nothing: Quix's own per-message path (~25 µs per app per event) and its sink's
``execute_values`` (100 rows a statement, not a setting; ~45 µs of PostgreSQL per event) are the
cost, and changing those would be writing another sink rather than configuring this one. The
tuned form still sinks the values as JSON gave them (text ``event_datetime`` and ``amount``);
typing them in the dataframe would cost it more.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

from quixstreams import Application
from quixstreams.sinks.community.postgresql import PostgreSQLSink

SCHEMA = "peer_quix"
CONSUMER_PREFIX = "QUIX_CONSUMER_"


def consumer_config(env: Mapping[str, str]) -> dict[str, str]:
    return {
        k.removeprefix(CONSUMER_PREFIX).lower().replace("_", "."): v
        for k, v in env.items()
        if k.startswith(CONSUMER_PREFIX)
    }


def main() -> None:
    group, table = sys.argv[1], sys.argv[2]
    env = os.environ
    db = urlsplit(env["DATABASE_URL"])
    # The broker authenticates every client (README: security): the bench's principal.
    sasl = {
        "security.protocol": env.get("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        "sasl.mechanism": env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        "sasl.username": env["KAFKA_USERNAME"],
        "sasl.password": env["KAFKA_PASSWORD"],
    }
    app = Application(
        consumer_extra_config={**sasl, **consumer_config(env)},
        producer_extra_config=sasl,
        broker_address=env["KAFKA_BOOTSTRAP_SERVERS"],
        consumer_group=group,
        auto_offset_reset="earliest",
        processing_guarantee="at-least-once",
        commit_interval=float(env.get("QUIX_COMMIT_INTERVAL", "5")),
        commit_every=int(env.get("QUIX_COMMIT_EVERY", "0")),
        state_dir=env["QUIX_STATE_DIR"],
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
        include_metadata=env.get("QUIX_INCLUDE_METADATA", "1") != "0",
    )
    topic = app.topic(env.get("EVENTS_TOPIC", "multi-app-events"), value_deserializer="json")
    sdf = app.dataframe(topic)
    if columns := [c for c in env.get("QUIX_COLUMNS", "").split(",") if c]:
        sdf = sdf[columns]
    sdf.sink(sink)
    app.run()


if __name__ == "__main__":
    main()
