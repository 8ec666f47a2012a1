import gc
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import procs  # noqa: E402


def pytest_configure(config):
    """Mark this test process's environment, so that every process its tests start carries the
    mark, even one re-parented to init after its parent died (with pytest-xdist, each worker
    sets its own)."""
    os.environ[procs.MARK] = f"{os.getpid()}-{uuid.uuid4().hex}"


def _stop_resource_tracker(timeout: float = 10.0) -> None:
    """multiprocessing's resource tracker, if a test started one in this process (a spawn pool,
    a Dask cluster), lives until this process exits; end it now, and wait for it."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    for _ in range(3):  # a semaphore unregistered just after the stop starts a new tracker: stop that one too
        if getattr(tracker, "_pid", None) is None or not hasattr(tracker, "_stop"):
            return
        gc.collect()  # semaphores of closed pools unregister now, before the stop
        stopper = threading.Thread(target=tracker._stop, daemon=True)
        stopper.start()
        stopper.join(timeout)  # it waits for every holder of its pipe: a leftover worker keeps it, and is reported
        if stopper.is_alive():
            return
        time.sleep(0.1)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """After the last test of this process (its fixtures, servers included, torn down first):
    no process any test started is still running, directly under this one or re-parented."""
    yield
    _stop_resource_tracker()
    token = os.environ[procs.MARK]
    # the mark finds what was exec'd (servers, spawn workers, trackers), the tree what was only forked
    left = procs.wait_until_empty(lambda: sorted(set(procs.marked(token)) | set(procs.descendants(os.getpid()))), timeout=10)
    assert not left, "processes the tests left behind:\n" + "\n".join(procs.describe(p) for p in left)
