"""Code every fanout process shares: event contract, settings, the one consume loop."""
