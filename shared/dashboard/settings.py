"""Settings only the dashboards read, from the environment at start-up."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class OverviewSettings(BaseSettings):
    """Which consumer group the overview reads for each service. Defaults: the service names
    (compose.yml); a second deployment or a test overrides them like the services'
    CONSUMER_GROUP."""

    model_config = SettingsConfigDict(extra="ignore")

    analytics_group: str = "analytics"
    billing_group: str = "billing"
    audit_group: str = "audit"

    def groups(self) -> dict[str, str]:
        return {
            "analytics": self.analytics_group,
            "billing": self.billing_group,
            "audit": self.audit_group,
        }
