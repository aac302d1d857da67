"""Rectify: a follow-up engine for inspection findings (整改督办)."""

__version__ = "0.1.0"
