"""RECTIFY_* variables that point a process (a flow, the CLI) at a test's database and folders."""

from __future__ import annotations

import json

from rectify.config import Settings


def rectify_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {"RECTIFY_DATA_DIR": str(settings.data_dir), "RECTIFY_DATABASE_URL": settings.db_url,
            "RECTIFY_SECRET_KEY": settings.secret_key.get_secret_value(),
            "RECTIFY_COMMAND_OFFICE": json.dumps(settings.command_office), **extra}
