"""Errors of the bulletin and digest a user can act on (kept light: the CLI imports them at start)."""


class BulletinError(Exception):
    """A bulletin or digest that cannot be made as asked; nothing was recorded or queued."""
