"""compose.yml: its services as the local runner reads them (spec), Debian's
docker-compose on it (v1), the compose tier run on podman (tier), and its one-shot
``secrets`` service (secrets)."""
