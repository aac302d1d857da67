"""`rectify web --workers 2` on Linux (web/workers.py): a socket per worker in one SO_REUSEPORT group.

Run as a user runs it (a subprocess on loopback). Which worker holds a connection is read from the kernel
(/proc/net/tcp and each worker's open files), not from anything the server says about itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.support.smtp import free_port, ipv6_loopback
from tests.test_cli_init import rectify
from web.workers import Workers, balanced, reuse_port_socket

pytestmark = pytest.mark.skipif(not balanced(), reason="SO_REUSEPORT spreads connections on Linux only")
CONNECTIONS = 32


def _workers(parent: int) -> set[int]:
    """The parent's spawned worker processes (not multiprocessing's resource tracker)."""
    kids = {int(k) for task in Path(f"/proc/{parent}/task").iterdir() for k in (task / "children").read_text().split()}
    return {k for k in kids if "spawn_main" in _cmdline(k) and _alive(k)}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _owners(server_port: int, client_ports: set[int], pids: set[int]) -> Counter[int]:
    """How many of these client connections each worker holds (the server side's socket inode, found among
    the worker's open files)."""
    inodes = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) in client_ports:
            inodes[f"socket:[{inode}]"] = int(remote.split(":")[1], 16)
    held: Counter[int] = Counter()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    held[pid] += 1
            except OSError:
                continue
    return held


def _listening(port: int, table: str = "tcp") -> int:
    """Listening sockets on the port (`table` tcp6 for IPv6): one per worker that has started serving."""
    return sum(1 for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]
               if int(line.split()[1].split(":")[-1], 16) == port and line.split()[3] == "0A")


def _requests(port: int, n: int) -> tuple[list[socket.socket], list[int]]:
    """n keep-alive connections opened at once (as a proxy's pool or a bench's clients do), then one page on
    each, all in flight together; (the open sockets, each answer's status)."""
    return asyncio.run(_together(port, n))


async def _together(port: int, n: int) -> tuple[list[socket.socket], list[int]]:
    pairs = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port) for _ in range(n)))

    async def page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
        writer.write(b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0]))
        return int(head.split(b" ", 2)[1])

    statuses = await asyncio.gather(*(page(r, w) for r, w in pairs))
    # copies outliving asyncio's transports, still connected: the caller reads who holds them, then closes them
    kept = [socket.socket(fileno=os.dup(w.get_extra_info("socket").fileno())) for _, w in pairs]
    for _, w in pairs:
        w.close()
    return kept, statuses


def _spread(port: int, pids: set[int]) -> Counter[int]:
    socks, statuses = _requests(port, CONNECTIONS)
    try:
        assert statuses == [200] * CONNECTIONS
        held = _owners(port, {s.getsockname()[1] for s in socks}, pids)
    finally:
        for s in socks:
            s.close()
    assert sum(held.values()) == CONNECTIONS, held
    return held


def _wait_for(check, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def _serving(tmp_path: Path, host: str = "127.0.0.1") -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`rectify web --workers 2` on host, once both workers have started and a page answers; stopped after."""
    assert rectify("init", cwd=tmp_path).returncode == 0
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECTIFY_")}
    path = tmp_path / "web.log"
    log = path.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "rectify", "web", "--host", host, "--port", str(port),
                             "--workers", "2"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/signin"

    def up() -> bool:
        assert proc.poll() is None, path.read_text()
        try:
            return httpx.get(url, timeout=2).status_code == 200 \
                and path.read_text().count("Application startup complete") == 2
        except httpx.HTTPError:
            return False

    try:
        _wait_for(up, "two workers serving")
        yield proc, port, path
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
        log.close()


@pytest.fixture
def served(tmp_path):
    with _serving(tmp_path) as running:
        yield running


def test_it_spreads_connections_opened_together_over_both_workers(served) -> None:
    proc, port, _ = served
    pids = _workers(proc.pid)
    held = _spread(port, pids)
    assert set(held) == pids and min(held.values()) >= 4, held  # by address hash: 16 ± 3 each


def test_it_replaces_a_killed_worker_and_loses_no_new_connection(served) -> None:
    proc, port, log = served
    first, second = sorted(_workers(proc.pid))
    os.kill(first, signal.SIGKILL)
    # reaped by the supervisor: every thread gone, so its socket is closed (a zombie leader's threads may not be)
    _wait_for(lambda: not Path(f"/proc/{first}").exists(), "the killed worker to be reaped")
    socks, statuses = _requests(port, 20)  # the survivor takes them all: the dead socket left the group
    for s in socks:
        s.close()
    assert statuses == [200] * 20

    def replaced() -> set[int] | None:
        now = _workers(proc.pid)
        return now if len(now) == 2 and first not in now and _listening(port) == 2 else None

    pids = _wait_for(replaced, "a replacement worker serving")
    assert second in pids
    held = _spread(port, pids)
    assert set(held) == pids and min(held.values()) >= 4, held
    assert f"Worker process [{first}] died" in log.read_text()


def test_it_replaces_every_worker_on_sighup_while_answering_throughout(served) -> None:
    proc, port, log = served
    before = _workers(proc.pid)
    answered: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def keep_asking() -> None:  # a new connection each time: each one is handed to a listening socket
        while not stop.is_set():
            try:
                answered.append(httpx.get(f"http://127.0.0.1:{port}/signin", timeout=10).status_code)
            except httpx.HTTPError as exc:
                failures.append(repr(exc))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        proc.send_signal(signal.SIGHUP)

        def rolled() -> set[int] | None:
            now = _workers(proc.pid)
            return now if len(now) == 2 and not now & before and _listening(port) == 2 else None

        after = _wait_for(rolled, "two new workers serving", 120)
        time.sleep(0.5)
    finally:
        stop.set()
        asker.join()
    assert not failures, failures[:3]
    assert answered and set(answered) == {200}
    assert proc.poll() is None and not any(_alive(p) for p in before)
    assert set(_spread(port, after)) == after
    assert "Replacing the 2 workers one by one" in log.read_text()


def test_its_workers_stop_when_the_supervisor_is_killed(served) -> None:
    proc, port, _ = served
    pids = _workers(proc.pid)
    proc.kill()  # no chance to stop them: each notices its parent is gone
    proc.wait(timeout=10)
    _wait_for(lambda: not any(_alive(p) for p in pids), "the orphaned workers to stop", 30)
    assert _listening(port) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_it_stops_every_worker_on_a_signal(served, sig) -> None:
    proc, port, _ = served
    pids = _workers(proc.pid)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 0
    assert not any(_alive(p) for p in pids)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _bounded_run(workers: Workers, seconds: float = 60) -> int:
    """workers.run(), stopped after `seconds` if it has not stopped itself (then its code is 0, not 3)."""
    timer = threading.Timer(seconds, workers.stopping.set)
    timer.start()
    try:
        return workers.run()
    finally:
        timer.cancel()


def test_it_stops_with_uvicorns_startup_failure_code_when_a_worker_cannot_start() -> None:
    config = uvicorn.Config("tests.no_such_module:app", host="127.0.0.1", port=free_port(), workers=2,
                            log_level="critical")
    assert _bounded_run(Workers(config, 2)) == 3  # not restarted for ever: each would fail the same way


def test_it_stops_instead_of_restarting_a_worker_that_dies_before_it_serves() -> None:
    config = uvicorn.Config("tests.support.exits_at_import:app", host="127.0.0.1", port=free_port(), workers=2,
                            log_level="error")
    seen: list[str] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("uvicorn.error").addHandler(handler)  # uvicorn's loggers do not propagate
    try:
        assert _bounded_run(Workers(config, 2)) == 3
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    assert any("(code 7) before it served" in m for m in seen), seen


def test_it_refuses_a_port_another_program_listens_on() -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        config = uvicorn.Config("web.app:from_settings", factory=True, host="127.0.0.1",
                                port=other.getsockname()[1], workers=2)
        with pytest.raises(OSError):
            Workers(config, 2).run()
    with reuse_port_socket("127.0.0.1", 0) as ours:  # the group itself admits a second member
        assert ours.getsockname()[1] > 0


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_it_serves_an_ipv6_address_with_a_socket_per_worker(tmp_path) -> None:
    with _serving(tmp_path, "::1") as (proc, port, _):
        assert _listening(port, "tcp6") == 2
        assert httpx.get(f"http://[::1]:{port}/signin", timeout=5).status_code == 200
        proc.terminate()
        assert proc.wait(timeout=60) == 0
