"""Typed SQLAlchemy 2 models. Import from here: `from models import Finding, Unit, ...`."""

from models.base import Base, UTCDateTime
from models.bulletin import Bulletin, BulletinItem
from models.calendar import CalendarYear
from models.directory import ApiToken, Person, Round, SupervisionGroup, Unit
from models.finding import Event, Evidence, Finding
from models.outbox import OutboxBody, OutboxMessage
from models.practice import ExtensionRequest, Notice
from models.progress import ProgressReport

__all__ = [
    "ApiToken",
    "Base",
    "Bulletin",
    "BulletinItem",
    "CalendarYear",
    "Event",
    "Evidence",
    "ExtensionRequest",
    "Finding",
    "Notice",
    "OutboxBody",
    "OutboxMessage",
    "Person",
    "ProgressReport",
    "Round",
    "SupervisionGroup",
    "UTCDateTime",
    "Unit",
]
