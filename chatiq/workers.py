"""`chatiq serve --workers N`: N server processes sharing one port and one PostgreSQL.

The parent migrates once, then supervises: it restarts a crashed worker, and on
SIGTERM/SIGINT stops every worker gracefully before the CLI stops the database.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import Connection, wait

from chatiq import __version__
from chatiq.config import Config, ConfigError

log = logging.getLogger("chatiq.workers")

# A worker that crashes this many times within CRASH_WINDOW_SECONDS is not restarted
# again: something is wrong with every start (the database, the code), not one request.
MAX_CRASHES = 5
CRASH_WINDOW_SECONDS = 60.0
# How long the parent waits for one worker to be listening before giving up.
READY_TIMEOUT_SECONDS = 60.0
# The exit code of a worker that met a configuration problem: restarting cannot help.
CONFIG_ERROR_EXIT = 2


def parse_count(value: str) -> int:
    """argparse type for --workers: a whole number from 1 to 64."""
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"must be a whole number from 1 to 64, got {value!r}") from None
    if not 1 <= count <= 64:
        raise ValueError(f"must be a whole number from 1 to 64, got {value!r}")
    return count


def check_port_free(host: str, port: int) -> None:
    """Bind once without SO_REUSEPORT: another program on the port fails here, clearly,
    instead of silently sharing the port with our workers."""
    if port == 0:
        raise ConfigError("--workers needs a fixed --port (0 would give each worker its own)")
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError("--workers needs SO_REUSEPORT (Linux); run one `chatiq serve` per port")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        socket.create_server((host, port), family=family).close()
    except OSError as exc:
        raise ConfigError(f"port {port} on {host} is not available: "
                          f"{exc.strerror or exc}") from None


async def prepare_database(config: Config, count: int) -> None:
    """Migrate once, before any worker starts; warn if the workers could exhaust connections."""
    from chatiq.store.db import create_pool, max_connections
    from chatiq.store.migrate import migrate

    pool = await create_pool(config.database_url, maxsize=1)
    try:
        applied = await migrate(pool)
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        allowed = await max_connections(pool)
    finally:
        pool.close()
        await pool.wait_closed()
    # Each worker holds up to its pool plus one LISTEN connection.
    needed = count * (config.db_pool_max + 1)
    if needed > allowed:
        log.warning("%d workers may open up to %d database connections; the database allows %d",
                    count, needed, allowed)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM this worker if the supervisor dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(config: Config, index: int, parent_pid: int, ready: Connection) -> None:
    """A worker process: the ordinary server, on a port it shares with its siblings."""
    from chatiq import server

    _die_with_parent(parent_pid)
    logging.basicConfig(level=logging.INFO, format=(
        f"%(asctime)s %(levelname)s %(name)s[worker {index}]: %(message)s"))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        code = asyncio.run(server.serve(config, reuse_port=True, on_ready=lambda: ready.send(index)))
    except ConfigError as exc:
        print(f"chatiq worker {index}: {exc}", file=sys.stderr, flush=True)
        code = CONFIG_ERROR_EXIT
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


class Supervisor:
    """Starts N workers, restarts the ones that crash, stops them all on a signal."""

    def __init__(self, config: Config, count: int):
        self.config = config
        self.count = count
        # "spawn": each worker is a fresh interpreter, sharing nothing with the parent
        # (no inherited event loop, database connections or pgserver handles).
        self.ctx = multiprocessing.get_context("spawn")
        self.procs: list = [None] * count             # worker index → its Process
        self.ready: list = [None] * count             # worker index → its "listening" pipe end
        self.crashes: list[float] = []                # times of recent crashes, any worker
        self.stopping = False

    def _start(self, index: int) -> None:
        receive, send = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=_worker_main, name=f"chatiq-worker-{index}",
                                args=(self.config, index, os.getpid(), send))
        proc.start()
        send.close()  # only the child writes; EOF then means it died
        self.procs[index], self.ready[index] = proc, receive

    def _on_signal(self, signum, frame) -> None:
        self.stopping = True

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.count):
                self._start(index)
            if not self._wait_ready():  # a worker failed to start, or we were told to stop
                return self._stop_all(failed=not self.stopping)
            shown = "127.0.0.1" if self.config.host in ("0.0.0.0", "::") else self.config.host
            print(f"ChatIQ {__version__} on http://{shown}:{self.config.port} with {self.count}"
                  f" workers (admin: /admin, demo: /demo)", flush=True)
            code = self._supervise()
            stopped = self._stop_all()
            return code or stopped
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _wait_ready(self) -> bool:
        """Every worker says it is listening; False if one failed or a signal came first."""
        pending = dict(enumerate(self.ready))
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while pending and not self.stopping and time.monotonic() < deadline:
            for conn in wait(list(pending.values()), timeout=0.2):
                index = next(i for i, c in pending.items() if c is conn)
                try:
                    conn.recv()
                except EOFError:
                    log.error("worker %d exited while starting (code %s)", index,
                              self.procs[index].exitcode)
                    return False
                del pending[index]
        if pending and not self.stopping:
            log.error("workers %s did not start listening in time", sorted(pending))
        return not pending

    def _supervise(self) -> int:
        """Until a signal: restart crashed workers. Non-zero when restarting cannot help."""
        while not self.stopping:
            wait([p.sentinel for p in self.procs], timeout=0.5)
            for index, proc in enumerate(self.procs):
                if self.stopping or proc.exitcode is None:
                    continue
                if proc.exitcode == CONFIG_ERROR_EXIT:
                    log.error("worker %d stopped on a configuration error; stopping", index)
                    return CONFIG_ERROR_EXIT
                now = time.monotonic()
                self.crashes = [t for t in self.crashes if now - t < CRASH_WINDOW_SECONDS] + [now]
                if len(self.crashes) > MAX_CRASHES:
                    log.error("workers crashed %d times within %.0f s; stopping",
                              len(self.crashes), CRASH_WINDOW_SECONDS)
                    return 1
                log.warning("worker %d (pid %s) exited with code %s; restarting",
                            index, proc.pid, proc.exitcode)
                self._start(index)
        return 0

    def _stop_all(self, failed: bool = False) -> int:
        """SIGTERM every worker, wait for their graceful stop, kill what is left."""
        from chatiq.server import SHUTDOWN_LIMIT_SECONDS

        self.stopping = True
        alive = [p for p in self.procs if p is not None and p.exitcode is None]
        if alive:
            log.info("stopping %d workers", len(alive))
        for proc in alive:
            proc.terminate()  # SIGTERM: the worker closes sockets with 1001 and drains
        deadline = time.monotonic() + SHUTDOWN_LIMIT_SECONDS + 5
        clean = True
        for proc in alive:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.exitcode is None:
                log.error("worker pid %s did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.join()
                clean = False
            elif proc.exitcode not in (0, -signal.SIGTERM):  # -SIGTERM: asked to stop
                clean = False
        return 1 if failed or not clean else 0


def run_workers(config: Config, count: int) -> int:
    """The parent of `serve --workers N`; the database is already running and reachable."""
    check_port_free(config.host, config.port)
    asyncio.run(prepare_database(config, count))
    return Supervisor(config, count).run()
