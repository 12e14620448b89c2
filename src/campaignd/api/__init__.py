"""The HTTP API under ``/api/admin/marketing``: campaigns, lifecycle, reports, suppressions."""

from campaignd.api.app import create_app

__all__ = ["create_app"]
