"""An outbox row's states, apart from the outbox's operations: the claim (rectify.mail.claims) and the
outbox (rectify.mail.outbox) both need them, and the outbox builds on the claim."""

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
