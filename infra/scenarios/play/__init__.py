"""One scenario a file; each defines ``SCENARIO`` (see infra/scenarios/engine.py)."""
