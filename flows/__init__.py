"""Prefect flows: thin orchestration over rectify's services (daily run, import, bulletin, digest)."""
