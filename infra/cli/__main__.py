"""``python -m infra.cli`` (what ./fanout and compose's init run)."""

from infra.cli import main

main()
