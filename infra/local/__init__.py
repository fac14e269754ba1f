"""The local runner: ``./fanout up`` and the test stacks — the stack (broker, database,
topic, schema), the supervisor and its restarts and instances, child processes, cleanup,
and Debian's packages installed when missing."""
