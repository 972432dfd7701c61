"""Every external system the assets touch, as configurable resources (one class per backend)."""

from dagster_project.resources.core import (
    BatchSettingsResource,
    CatalogResource,
    TTSResource,
    WorkspaceResource,
)
from dagster_project.resources.publishing import (
    LocalPublishingResource,
    PublishingResource,
    SupabasePublishingResource,
    SupabaseResource,
    publishing_from_env,
)
from dagster_project.resources.reports import ReportsResource

__all__ = [
    "BatchSettingsResource",
    "CatalogResource",
    "LocalPublishingResource",
    "PublishingResource",
    "ReportsResource",
    "SupabasePublishingResource",
    "SupabaseResource",
    "TTSResource",
    "WorkspaceResource",
    "publishing_from_env",
]
