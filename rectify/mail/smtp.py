"""One SMTP connection set up the safe way, and what a failure means for the rows waiting to go.

The handshake is ours, not aiosmtplib's: STARTTLS whenever the server offers it, the password never over
an unencrypted connection (unless `smtp.allow_plain_auth`), a private CA through `smtp.ca_file`.

Failures fall in three classes:
- `SmtpConfigError`: the same for every recipient (login refused, TLS impossible, sender refused, 5xx at
  connection). Sending stops, every row stays pending, the message says which setting to fix.
- temporary (4xx, timeouts, a refused connection): the row waits for the next run.
- permanent per recipient (a 5xx to RCPT or DATA): that row alone is failed.
"""

from __future__ import annotations

import ssl

import aiosmtplib

from rectify.config import SmtpSettings


class SmtpConfigError(Exception):
    """A problem that is the same for every message: fix the settings (or the server), then retry."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def is_permanent(exc: BaseException) -> bool:
    """A refusal of this one message (5xx to RCPT or DATA)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return 500 <= exc.code < 600
    return False


def _where(cfg: SmtpSettings) -> str:
    return f"{cfg.host}:{cfg.port}"


def config_problem(exc: BaseException, cfg: SmtpSettings) -> str | None:
    """One line naming what to fix, when `exc` (raised while sending) is the same for every recipient."""
    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and 500 <= exc.code < 600:
        return (f"SMTP server {_where(cfg)} refuses mail from {cfg.from_addr} ({exc.code} {exc.message}): "
                "check smtp.security, smtp.username/smtp.password and smtp.from_addr")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients and \
            all(r.code == 530 for r in exc.recipients):
        return (f"SMTP server {_where(cfg)} wants a login or TLS first ({describe(exc)}): "
                "check smtp.security and smtp.username/smtp.password")
    return None


def _tls_context(cfg: SmtpSettings, *, verify: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _tls_failure(exc: BaseException, cfg: SmtpSettings) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (f"SMTP server {_where(cfg)}: its TLS certificate is not trusted ({exc}): set smtp.ca_file to "
                "the PEM file of the CA that signed it")
    return (f"SMTP server {_where(cfg)}: TLS handshake failed ({describe(exc)}): check smtp.security "
            "(\"tls\" is for a port that speaks TLS at once, such as 465) and smtp.port")


async def connect(cfg: SmtpSettings) -> aiosmtplib.SMTP:
    """A connected, greeted, encrypted-if-possible, logged-in client. Raises SmtpConfigError for what the
    operator must fix, and aiosmtplib/OS errors for what may pass (the server down or busy)."""
    creds = bool(cfg.username)
    implicit = cfg.security == "tls"
    client = aiosmtplib.SMTP(hostname=cfg.host, port=cfg.port, timeout=cfg.timeout, use_tls=implicit,
                             start_tls=False, tls_context=_tls_context(cfg, verify=True) if implicit else None)
    try:
        await client.connect()
    except aiosmtplib.SMTPConnectResponseError as exc:
        if 500 <= exc.code < 600:
            raise SmtpConfigError(f"SMTP server {_where(cfg)} refuses the connection ({exc.code} {exc.message}): "
                                  "check smtp.host and smtp.port, or ask its administrator to allow this host"
                                  ) from None
        raise
    except ssl.SSLError as exc:
        raise SmtpConfigError(_tls_failure(exc, cfg)) from None
    except aiosmtplib.SMTPConnectError as exc:
        if isinstance(exc.__cause__, ssl.SSLError) or isinstance(exc.__context__, ssl.SSLError):
            raise SmtpConfigError(_tls_failure(exc.__cause__ or exc.__context__ or exc, cfg)) from None
        raise
    try:
        await _secure_and_login(client, cfg, implicit=implicit, creds=creds)
    except BaseException:
        client.close()
        raise
    return client


async def _secure_and_login(client: aiosmtplib.SMTP, cfg: SmtpSettings, *, implicit: bool, creds: bool) -> None:
    await client.ehlo()
    encrypted = implicit
    if not implicit and client.supports_extension("starttls"):
        # Verified whenever a password will follow; a relay without login still gets encryption
        # against eavesdropping even with a certificate nobody can check (RFC 7435 opportunistic TLS).
        verify = cfg.security == "starttls" or creds
        try:
            await client.starttls(tls_context=_tls_context(cfg, verify=verify))
        except (ssl.SSLError, aiosmtplib.SMTPConnectError) as exc:
            raise SmtpConfigError(_tls_failure(exc, cfg)) from None
        except aiosmtplib.SMTPResponseException as exc:
            if cfg.security == "starttls" or creds or 500 <= exc.code < 600:
                raise SmtpConfigError(f"SMTP server {_where(cfg)} offers STARTTLS but refuses it "
                                      f"({exc.code} {exc.message}): check smtp.security") from None
            raise
        encrypted = True
    elif cfg.security == "starttls":
        raise SmtpConfigError(f"smtp.security = \"starttls\" but {_where(cfg)} does not offer STARTTLS: use "
                              "\"tls\" for a port that speaks TLS at once (465), or the server's submission port")
    if not creds:
        return
    if not encrypted and not cfg.allow_plain_auth:
        raise SmtpConfigError(f"refusing to send the SMTP password to {_where(cfg)} over an unencrypted "
                              "connection (the server offers no STARTTLS): set smtp.security = \"tls\" or "
                              "\"starttls\", or smtp.allow_plain_auth = true on a trusted network")
    try:
        await client.login(cfg.username, cfg.password.get_secret_value())
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SmtpConfigError(f"SMTP login as {cfg.username!r} refused by {_where(cfg)} ({exc.code} "
                              f"{exc.message}): check smtp.username and smtp.password") from None
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        raise  # 454 and friends: try again later
    except aiosmtplib.SMTPException as exc:  # "AUTH extension not supported", no common mechanism
        raise SmtpConfigError(f"SMTP server {_where(cfg)} cannot log in ({exc}): leave smtp.username empty, "
                              "or check smtp.port") from None
