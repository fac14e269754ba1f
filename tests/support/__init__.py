"""What the tests share, one module a concern (each helper is defined once):

- ``catalog``: the services as the tests know them (names, the tables their handlers write);
- ``kafka``: unique names, topics, raw produce/consume, offsets read back from the broker;
- ``db``: reading PostgreSQL as the admin, role URLs, CHECK constraints that refuse writes;
- ``sessions``: the services' sessions in ``pg_stat_activity``, table locks;
- ``processes``: the real service processes (start, stop, SIGKILL, SIGSTOP, logs);
- ``web``: what a process's web endpoints say (health, metrics, the dashboards' APIs);
- ``publishing``: publishing events, in the foreground or the background, and ground truths;
- ``reconcile``: waiting until the services caught up, and the exact reconciliation;
- ``windows``: crash windows (persisted in the database, not committed in Kafka);
- ``batches``: the consume loop's database steps against PostgreSQL alone (the middle tier).
"""
