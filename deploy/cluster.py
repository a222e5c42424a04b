#!/usr/bin/env python3
"""A production topology on one machine: HAProxy in front of N Comptoir instances on PostgreSQL
and Redis, health-checked on /health/ready.

    python3 deploy/cluster.py up                # make cluster: start it, Ctrl-C stops it
    python3 deploy/cluster.py rolling-restart   # make rolling-restart: restart every instance
                                                # in turn under load; exit 1 on any failure

Everything it starts is its own and thrown away at the end: a PostgreSQL database created on
the server at CLUSTER_POSTGRES_URL (a user allowed to CREATE DATABASE), a Redis server, the
instances (the release build, or COMPTOIR_BIN) and HAProxy (Debian's `haproxy`). Ports: HAProxy
on CLUSTER_PORT, the instances on the N ports after it, Redis on the next; CLUSTER_PORT=0 (what
rolling-restart uses unless told) picks free ports. Standard library only.
"""

import argparse
import csv
import ctypes
import http.client
import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# HAProxy talks to the instances from this address, and only this address is trusted for
# X-Forwarded-For: a client reaching an instance directly (from 127.0.0.1) cannot forge one.
BALANCER_SOURCE = "127.0.0.2"
# After SIGTERM an instance serves on this long with readiness at 503: longer than HAProxy's
# `inter 500ms fall 2`, so it is out of rotation before its listener closes, even without the
# runtime API.
DRAIN_SECS = 2
# How long an instance has to exit by itself after SIGTERM: the drain, then at most 30 s for
# in-flight requests (the server's own grace), and a margin.
EXIT_DEADLINE = DRAIN_SECS + 30 + 5
LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def die_with_parent():
    """Runs in each child before exec: its own session, so that Ctrl-C reaches this script
    alone (which then stops the children in order); and if this script dies, even by SIGKILL,
    the child gets SIGTERM, so nothing it started outlives it."""
    os.setsid()
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_answers(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(what, check, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise ClusterError(f"{what}: not after {timeout} s")


class ClusterError(Exception):
    pass


def call(port, method, path, body=None, token=None, timeout=10):
    """One request on a new connection: (status, parsed JSON body or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return request_on(connection, method, path, body, token)
    finally:
        connection.close()


def request_on(connection, method, path, body=None, token=None):
    headers = {"Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return response.status, parsed


def psql(server_url, sql):
    subprocess.run(
        ["psql", server_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
        check=True,
        capture_output=True,
        text=True,
    )


def with_database(server_url, name):
    base, _, query = server_url.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


@dataclass
class Instance:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen = None
    generation: int = 0


@dataclass
class Cluster:
    size: int
    binary: Path
    postgres_server: str
    base_port: int
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="comptoir-cluster-")))
    instances: list = field(default_factory=list)
    processes: list = field(default_factory=list)
    database: str = None
    haproxy: subprocess.Popen = None
    redis: subprocess.Popen = None

    def __post_init__(self):
        if self.base_port:
            ports = list(range(self.base_port, self.base_port + self.size + 2))
        else:
            ports = [free_port() for _ in range(self.size + 2)]
        self.front_port, self.redis_port = ports[0], ports[-1]
        self.instances = [
            Instance(f"app{i}", port, self.workdir / f"app{i}.log")
            for i, port in enumerate(ports[1:-1], start=1)
        ]
        self.socket_path = self.workdir / "haproxy.sock"
        self.env = {
            **os.environ,
            "JWT_SECRET": secrets.token_hex(32),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}",
            "TRUSTED_PROXIES": BALANCER_SOURCE,
            "SHUTDOWN_DRAIN_SECS": str(DRAIN_SECS),
            "LOG_FORMAT": "json",
            "RUST_LOG": "info",
            # Three instances and the load share two cores here: a cheaper hash than the
            # default 12 keeps logins in the mix without starving everything else.
            "BCRYPT_COST": os.environ.get("BCRYPT_COST", "8"),
            # Every client of this demo is 127.0.0.1: the per-address limits would count the
            # load generator as one abusive client.
            "RATE_LIMIT_API": "100000/60",
            "RATE_LIMIT_LOGIN": "100000/60",
            "RATE_LIMIT_LOGIN_PER_ADDRESS": "100000/60",
            "RATE_LIMIT_REGISTER": "100000/60",
            "BCRYPT_JOBS_PER_ADDRESS": "64",
            "ORDER_FREE_LINES": "anyone",
            "PRUNE_INTERVAL_SECS": "0",
        }

    # --- starting -------------------------------------------------------------------------

    def start(self):
        log(f"working directory {self.workdir}")
        self.start_database()
        self.start_redis()
        self.env["DATABASE_URL"] = with_database(self.postgres_server, self.database)
        migrate = subprocess.run(
            [str(self.binary), "migrate"], env=self.env, capture_output=True, text=True
        )
        if migrate.returncode != 0:
            raise ClusterError(f"comptoir migrate failed:\n{migrate.stdout}{migrate.stderr}")
        for instance in self.instances:
            self.start_instance(instance)
        for instance in self.instances:
            self.wait_ready(instance)
        self.start_haproxy()
        for instance in self.instances:
            self.wait_in_rotation(instance)
        log(
            f"cluster up: HAProxy on http://127.0.0.1:{self.front_port}, instances on "
            + ", ".join(str(i.port) for i in self.instances)
            + f", Redis on {self.redis_port}, PostgreSQL database {self.database}"
        )

    def spawn(self, command, log_path=None, **kwargs):
        output = open(log_path, "ab") if log_path else subprocess.DEVNULL
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            **kwargs,
        )
        if log_path:
            output.close()
        self.processes.append(process)
        return process

    def start_database(self):
        self.database = f"comptoir_cluster_{secrets.token_hex(4)}"
        try:
            psql(self.postgres_server, f"CREATE DATABASE {self.database}")
        except subprocess.CalledProcessError as err:
            self.database = None
            raise ClusterError(
                f"cannot create a database on {self.postgres_server} (CLUSTER_POSTGRES_URL): "
                f"{err.stderr.strip()}"
            ) from err

    def start_redis(self):
        self.redis = self.spawn(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            self.workdir / "redis.log",
        )
        wait_for("Redis answering", lambda: port_answers(self.redis_port), 10)

    def start_instance(self, instance):
        instance.generation += 1
        with open(instance.log_path, "a") as header:
            header.write(f"--- {instance.name}, start {instance.generation}\n")
        instance.process = self.spawn(
            [str(self.binary), "serve"],
            instance.log_path,
            env={**self.env, "BIND_ADDR": f"127.0.0.1:{instance.port}"},
            cwd=self.workdir,
        )

    def wait_ready(self, instance, timeout=30):
        def ready():
            if instance.process.poll() is not None:
                raise ClusterError(
                    f"{instance.name} exited with {instance.process.returncode}; see "
                    f"{instance.log_path}"
                )
            try:
                return call(instance.port, "GET", "/health/ready", timeout=2)[0] == 200
            except OSError:
                return False

        wait_for(f"{instance.name} ready on {instance.port}", ready, timeout)

    def start_haproxy(self):
        template = (ROOT / "deploy" / "haproxy.cfg").read_text()
        servers = "\n".join(
            f"    server {i.name} 127.0.0.1:{i.port} source {BALANCER_SOURCE} check"
            for i in self.instances
        )
        config = (
            template.replace("@FRONT_PORT@", str(self.front_port))
            .replace("@ADMIN_SOCKET@", str(self.socket_path))
            .replace("@SERVERS@", servers)
        )
        config_path = self.workdir / "haproxy.cfg"
        config_path.write_text(config)
        check = subprocess.run(
            ["haproxy", "-c", "-q", "-f", str(config_path)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise ClusterError(f"haproxy refuses its configuration:\n{check.stderr}")
        self.haproxy = self.spawn(
            ["haproxy", "-db", "-f", str(config_path)], self.workdir / "haproxy.log"
        )
        wait_for("HAProxy listening", lambda: port_answers(self.front_port), 10)
        wait_for("HAProxy's runtime API", self.socket_path.exists, 10)

    # --- HAProxy's runtime API ------------------------------------------------------------

    def admin(self, command):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(5)
            connection.connect(str(self.socket_path))
            connection.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_stats(self, instance):
        text = self.admin("show stat").lstrip("# ")
        for row in csv.DictReader(io.StringIO(text)):
            if row["pxname"] == "comptoir" and row["svname"] == instance.name:
                return row
        raise ClusterError(f"HAProxy does not list {instance.name}")

    def wait_in_rotation(self, instance, timeout=30):
        wait_for(
            f"HAProxy sending to {instance.name}",
            lambda: self.server_stats(instance)["status"] == "UP",
            timeout,
        )

    # --- one restart ----------------------------------------------------------------------

    def restart(self, instance):
        """Out of rotation, drained, stopped by SIGTERM alone, started again, back in rotation.
        Returns what happened, for the report."""
        started = time.monotonic()
        self.admin(f"set server comptoir/{instance.name} state drain")
        # Nothing new goes there now; wait for what HAProxy already sent it to come back.
        wait_for(
            f"{instance.name} without requests from HAProxy",
            lambda: self.server_stats(instance)["scur"] == "0",
            30,
            interval=0.05,
        )
        instance.process.send_signal(signal.SIGTERM)
        try:
            code = instance.process.wait(timeout=EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            instance.process.kill()
            instance.process.wait()
            raise ClusterError(
                f"{instance.name} did not exit within {EXIT_DEADLINE} s of SIGTERM: killed"
            ) from None
        if code != 0:
            raise ClusterError(
                f"{instance.name} exited with {code} after SIGTERM, not 0; see {instance.log_path}"
            )
        stopped = time.monotonic()
        self.start_instance(instance)
        self.wait_ready(instance)
        self.admin(f"set server comptoir/{instance.name} state ready")
        self.wait_in_rotation(instance)
        return {
            "instance": instance.name,
            "stopped_after_s": round(stopped - started, 2),
            "back_after_s": round(time.monotonic() - started, 2),
            "exit_code": code,
        }

    # --- stopping -------------------------------------------------------------------------

    def stop(self, failed=False):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + EXIT_DEADLINE
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.database:
            try:
                psql(self.postgres_server, f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")
            except subprocess.CalledProcessError as err:
                log(f"could not drop {self.database}: {err.stderr.strip()}")
        if failed or os.environ.get("CLUSTER_KEEP_LOGS"):
            log(f"logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def show_logs(self):
        for path in sorted(self.workdir.glob("*.log")):
            # The instances log every request; what went wrong is in the other lines.
            lines = [
                line for line in path.read_text(errors="replace").splitlines()
                if '"request finished"' not in line
            ][-15:]
            print(f"--- {path.name} (last {len(lines)} lines)", file=sys.stderr)
            print("\n".join(lines), file=sys.stderr)


# --- the load ---------------------------------------------------------------------------


class Load:
    """A steady mixed load through HAProxy, one thread per user: reads (the user, their
    orders), logins, order writes. Each request is counted with its status; a connection that
    fails counts as a failure."""

    def __init__(self, port, users, pause=0.01):
        self.port = port
        self.users = users
        self.pause = pause
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []
        self.orders = []  # (order id, token of its owner)
        self.threads = [
            threading.Thread(target=self.run, args=(user,), daemon=True) for user in users
        ]

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def record(self, operation, status, detail=None):
        with self.lock:
            key = (operation, status)
            self.counts[key] = self.counts.get(key, 0) + 1
            if not (200 <= status < 300):
                self.failures.append((operation, status, detail))

    def run(self, user):
        rng = random.Random(user["email"])
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        token = user["token"]
        while not self.stop.is_set():
            roll = rng.random()
            if roll < 0.5:
                operation, method, path, body = "read", "GET", rng.choice(
                    ["/api/user", "/api/orders?per_page=5"]
                ), None
            elif roll < 0.6:
                operation, method, path, body = "login", "POST", "/api/login", {
                    "email": user["email"],
                    "password": user["password"],
                }
            else:
                operation, method, path, body = "order", "POST", "/api/orders", {
                    "items": [{"product": "Tea", "quantity": rng.randint(1, 3),
                               "unit_price_cents": 450}]
                }
            try:
                status, reply = request_on(
                    connection, method, path, body, None if operation == "login" else token
                )
            except (OSError, http.client.HTTPException) as err:
                self.record(operation, 0, repr(err))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            self.record(operation, status, None if status < 300 else reply)
            if operation == "login" and status == 200:
                token = reply["access_token"]
            elif operation == "order" and status == 201:
                with self.lock:
                    self.orders.append((reply["id"], token))
            time.sleep(self.pause)
        connection.close()

    def total(self):
        return sum(self.counts.values())


def make_users(port, count):
    users = []
    for n in range(count):
        user = {
            "email": f"load-{n}-{secrets.token_hex(3)}@example.com",
            "password": "correct-horse-battery",
        }
        status, reply = call(
            port, "POST", "/api/register",
            {"name": f"Load {n}", "email": user["email"], "password": user["password"]},
        )
        if status != 201:
            raise ClusterError(f"registering a load user: {status} {reply}")
        user["token"] = reply["access_token"]
        users.append(user)
    return users


def missing_orders(port, orders):
    """The created orders that the cluster does not give back by id."""
    missing = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for order_id, token in orders:
            status, reply = request_on(connection, "GET", f"/api/orders/{order_id}", token=token)
            if status != 200 or reply.get("id") != order_id:
                missing.append((order_id, status))
    finally:
        connection.close()
    return missing


# --- commands ---------------------------------------------------------------------------


def rolling_restart(cluster, args):
    users = make_users(cluster.front_port, args.workers)
    load = Load(cluster.front_port, users)
    began = time.monotonic()
    load.start()
    time.sleep(args.settle)
    restarts = []
    for instance in cluster.instances:
        log(f"restarting {instance.name}")
        restarts.append(cluster.restart(instance))
        log(f"  {restarts[-1]}")
        time.sleep(args.settle)
    load.finish()
    duration = time.monotonic() - began
    missing = missing_orders(cluster.front_port, load.orders)

    by_operation = {}
    for (operation, status), count in sorted(load.counts.items()):
        by_operation.setdefault(operation, {})[str(status)] = count
    report = {
        "instances": len(cluster.instances),
        "requests": load.total(),
        "failed": len(load.failures),
        "duration_s": round(duration, 1),
        "by_operation_and_status": by_operation,
        "orders_created": len(load.orders),
        "orders_missing": len(missing),
        "restarts": restarts,
    }
    print(json.dumps(report, indent=2))
    problems = []
    if load.failures:
        problems.append(f"{len(load.failures)} requests failed, e.g. {load.failures[:5]}")
    if missing:
        problems.append(f"{len(missing)} orders answered 201 but are not there: {missing[:5]}")
    if not load.orders:
        problems.append("no order was created: the load did not run")
    if problems:
        raise ClusterError("; ".join(problems))
    log(
        f"rolling restart passed: {report['requests']} requests, 0 failed, "
        f"{len(load.orders)} orders all there, {len(restarts)} instances drained and exited 0, "
        f"in {report['duration_s']} s"
    )


def up(cluster, _args):
    log("Ctrl-C stops the cluster and drops its database")
    while True:
        for instance in cluster.instances:
            if instance.process.poll() is not None:
                raise ClusterError(f"{instance.name} exited with {instance.process.returncode}")
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "rolling-restart"])
    parser.add_argument("--instances", type=int, default=int(os.environ.get("CLUSTER_SIZE", "3")))
    parser.add_argument("--workers", type=int, default=6, help="load threads (rolling-restart)")
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds of load before, between and after restarts")
    args = parser.parse_args()

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = Path(os.environ.get("COMPTOIR_BIN", target / "release" / "comptoir"))
    if not binary.exists():
        sys.exit(f"no binary at {binary}: run cargo build --release (or set COMPTOIR_BIN)")
    for tool in ("haproxy", "redis-server", "psql"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (apt-get install haproxy redis-server postgresql-client)")
    default_port = "8400" if args.command == "up" else "0"
    cluster = Cluster(
        size=args.instances,
        binary=binary,
        postgres_server=os.environ.get(
            "CLUSTER_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
        ),
        base_port=int(os.environ.get("CLUSTER_PORT", default_port)),
    )

    # SIGTERM (CI's time-out, a `kill`) unwinds like Ctrl-C, through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed = False
    try:
        cluster.start()
        (rolling_restart if args.command == "rolling-restart" else up)(cluster, args)
    except KeyboardInterrupt:
        log("stopping")
    except ClusterError as err:
        cluster.show_logs()
        log(f"FAILED: {err}")
        failed = True
    finally:
        cluster.stop(failed)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
