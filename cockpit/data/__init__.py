"""DataService: the one read API for business code. Writers for each area live beside it."""

from cockpit.data.data_service import DataService

__all__ = ["DataService"]
