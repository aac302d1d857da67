"""Typed SQLAlchemy 2 models. Import from here: `from models import Finding, Unit, ...`."""

from models.base import Base, UTCDateTime
from models.bulletin import Bulletin, BulletinItem
from models.directory import Person, Round, SupervisionGroup, Unit
from models.finding import Event, Evidence, Finding
from models.outbox import OutboxMessage

__all__ = [
    "Base",
    "Bulletin",
    "BulletinItem",
    "Event",
    "Evidence",
    "Finding",
    "OutboxMessage",
    "Person",
    "Round",
    "SupervisionGroup",
    "UTCDateTime",
    "Unit",
]
