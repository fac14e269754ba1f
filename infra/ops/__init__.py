"""What the operations commands do on the broker and the database (their command
lines are in infra/cli/): topics, groups and offsets, dead letters."""
