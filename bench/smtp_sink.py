"""An SMTP sink for the benches: aiosmtpd on 127.0.0.1:PORT in its own process, counting what it accepts.

    python bench/smtp_sink.py PORT   # prints 'ready'; on stdin EOF prints {"messages": n, "bytes": n, "cpu_s": s}
"""

from __future__ import annotations

import json
import sys
import time


def sink(port: int) -> None:
    """aiosmtpd on 127.0.0.1:port; prints 'ready', then on stdin EOF the counts as JSON."""
    from aiosmtpd.controller import Controller

    counts = {"messages": 0, "bytes": 0}

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            counts["messages"] += 1
            counts["bytes"] += len(envelope.content)
            return "250 OK"

    c = Controller(Handler(), hostname="127.0.0.1", port=port)
    c.start()
    print("ready", flush=True)
    sys.stdin.read()
    c.stop()
    counts["cpu_s"] = time.process_time()  # the sink's own CPU: the benches compare CPU as well as wall time
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    sink(int(sys.argv[1]))
