"""The OS generator, read a block at a time: every byte is served once, in every thread and
in every process forked from this one."""

import os
import sys
import threading

import pytest

from adapters.system import POOL_BYTES, SecureRandom


def test_tokens_never_repeat_across_many_blocks() -> None:
    random = SecureRandom()
    tokens = [random.token_bytes(16) for _ in range(4 * POOL_BYTES // 16 + 7)]
    assert all(len(token) == 16 for token in tokens)
    assert len(set(tokens)) == len(tokens)


@pytest.mark.parametrize(
    "size", [0, 1, 15, POOL_BYTES - 1, POOL_BYTES, POOL_BYTES + 1, 3 * POOL_BYTES]
)
def test_every_size_is_served_in_full(size: int) -> None:
    random = SecureRandom()
    random.token_bytes(5)  # part of a block already served
    assert len(random.token_bytes(size)) == size


def test_threads_drawing_at_once_get_different_bytes() -> None:
    random = SecureRandom()
    drawn: list[list[bytes]] = [[] for _ in range(8)]

    def draw(into: list[bytes]) -> None:
        for _ in range(2000):
            into.append(random.token_bytes(16))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between any two bytecodes, not every 5 ms
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    every = [token for into in drawn for token in into]
    assert len(set(every)) == len(every) == 16_000


def test_a_forked_child_does_not_serve_its_parents_next_bytes() -> None:
    random = SecureRandom()
    random.token_bytes(16)  # the parent holds a block it has only begun to serve
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits
        try:
            os.write(write, random.token_bytes(64))
        finally:
            os._exit(0)
    os.close(write)
    from_child = os.read(read, 64)
    os.close(read)
    os.waitpid(child, 0)
    assert len(from_child) == 64
    assert from_child != random.token_bytes(64)
