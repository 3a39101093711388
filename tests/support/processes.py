"""Running `embed-oauth` as real processes, the way users run it."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(env: Mapping[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    return done.stdout


def create_organisation(env: Mapping[str, str], name: str = "Acme") -> dict[str, str]:
    return dict(json.loads(run_cli(env, "organisations", "create", "--name", name)))


def start_server(
    env: Mapping[str, str], port: int, *extra: str, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """`embed-oauth serve` on ``port``, returned once it answers. ``new_session`` puts it in
    a process group of its own, so that a signal to the group reaches its workers too."""
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port), *extra],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=new_session,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode() if process.stdout else ""
            raise RuntimeError(f"the server did not start:\n{output}")
        time.sleep(0.1)


@contextmanager
def serving(env: Mapping[str, str], port: int, *extra: str) -> Iterator[str]:
    """`embed-oauth serve` on ``port`` until the block ends; yields its base URL."""
    process = start_server(env, port, *extra)
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
