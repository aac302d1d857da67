"""The supervisors' form: a small ASGI app (FastAPI) where units report and supervisors close (销号)."""
