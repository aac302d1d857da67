"""A module whose import ends the process with exit code 7 (tests/test_web_workers.py: a worker that dies
before it serves, not through uvicorn's start-up failure)."""

import os

os._exit(7)
