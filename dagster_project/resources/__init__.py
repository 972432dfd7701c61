"""Every external system the assets touch, as configurable resources."""

from dagster_project.resources.core import (
    BatchSettingsResource,
    CatalogResource,
    TTSResource,
    WorkspaceResource,
)
from dagster_project.resources.publishing import PublishingResource
from dagster_project.resources.reports import ReportsResource

__all__ = [
    "BatchSettingsResource",
    "CatalogResource",
    "PublishingResource",
    "ReportsResource",
    "TTSResource",
    "WorkspaceResource",
]
