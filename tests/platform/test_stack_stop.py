"""`hotline up` stops every process it started, even when the stop is interrupted (a second Ctrl-C): each runs in
a session of its own, so one left behind keeps running — in stop 26 a scoring and an appeals service outlived their
`hotline up` and their database, logging a failed poll every 20 s at a fifth of a core each."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from hotline.cli.stack import SERVICES, Stack

# A process that ignores SIGTERM (as a service slow to shut down does) and must be killed.
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(600)"
)


def start(stack: Stack, name: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout.readline().strip() == "up"
    stack.processes[name] = process
    return process


def test_an_interrupted_stop_still_kills_every_process(tmp_path):
    stack = Stack(database_url="postgresql://unused", log_dir=tmp_path, jwt_secret="unused")
    processes = [start(stack, name) for name in ["gateway", *[s.name for s in SERVICES]]]
    # Ctrl-C while the first process is given its time to stop.
    threading.Timer(0.5, lambda: __import__("_thread").interrupt_main()).start()
    with pytest.raises(KeyboardInterrupt):
        stack.stop()
    assert [p.poll() is not None for p in processes] == [True] * len(processes)
    assert stack.processes == {}


def test_a_process_that_ignores_the_stop_is_killed_after_its_time(tmp_path):
    stack = Stack(database_url="postgresql://unused", log_dir=tmp_path, jwt_secret="unused")
    process = start(stack, "gateway")
    stack.stop_one("gateway", timeout=0.5)
    assert process.poll() is not None
