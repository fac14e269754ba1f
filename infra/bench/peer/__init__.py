"""Peer pipelines of `./fanout bench --peer`, each run in its own virtual environment."""
