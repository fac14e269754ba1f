"""The lab: counter-examples the contrast scenarios run beside the three services, to show
what the platform's choices prevent. Nothing here is started by `./fanout up`; only a
scenario starts it, and stops it when done. shared/ and services/ never import it."""
