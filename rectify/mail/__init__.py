"""Mail: compose MIME messages, queue them in the outbox, deliver them over SMTP or into .eml files."""
