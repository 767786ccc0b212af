"""Where a batch's units run: in this process, in N local processes, or on a Dask cluster.

Every choice is a `concurrent.futures.Executor`, so the coordinator is the same for all. Local
processes start with `spawn` (TensorFlow does not survive `fork`); each process, and each Dask
worker, loads the model once (`tasks.detector_for`). A Dask cluster must see the same paths as
this machine (shared storage) and have auditor installed; `local` starts a `LocalCluster`.
Leaving an executor on an error or an interrupt stops its work first: local processes (of a pool
or a `LocalCluster`) end, Dask units not yet done are cancelled. A unit already running on a
remote Dask worker cannot be stopped from here; what it stages is cleared by the next run.
A Dask worker that dies (killed, out of memory) costs nothing: the scheduler runs its units again
on the other workers; `lost_worker` says why a unit failed when that was not possible.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from auditor.errors import ArchiveError

LOOPBACK = "127.0.0.1"
OpenExecutor = Callable[[], contextlib.AbstractContextManager[Executor]]  # `open_executor` with its arguments bound


class InlineExecutor(Executor):
    """Runs each unit when it is submitted, in this process (`--workers 1`): the coordinator hands
    it one unit at a time (`units_at_once`), so each is registered before the next starts."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def units_at_once(executor: Executor) -> int | None:
    """How many units the coordinator may hand `executor` before taking a result back: one for the
    inline executor (it runs each unit as it is handed over), any number otherwise."""
    return 1 if isinstance(executor, InlineExecutor) else None


@contextlib.contextmanager
def open_executor(workers: int = 1, scheduler: str | None = None) -> Iterator[Executor]:
    """The executor for `--workers N` and `--scheduler ADDRESS|local`."""
    if workers < 1:
        raise ArchiveError(f"--workers {workers}: give at least 1")
    if scheduler is not None:
        with _dask_executor(scheduler, workers) as executor:
            yield executor
    elif workers == 1:
        yield InlineExecutor()
    else:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield pool
        except BaseException:
            _terminate(pool)
            raise
        pool.shutdown()


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued units and end the worker processes, a running unit with them."""
    processes = list((pool._processes or {}).values())  # no public way to end a running unit before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


@contextlib.contextmanager
def _dask_executor(scheduler: str, workers: int) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ArchiveError("--scheduler needs Dask: pip install 'auditor[dask]'") from exc
    with contextlib.ExitStack() as stack:
        if scheduler == "local":
            cluster = stack.enter_context(
                LocalCluster(  # loopback only; its HTTP server on a free port (dashboard_address=None still took 8787)
                    n_workers=workers, threads_per_worker=1, processes=True, host=LOOPBACK, dashboard_address=f"{LOOPBACK}:0"
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            client = stack.enter_context(_connect(Client, scheduler))
        executor = DaskUnits(client)
        try:
            yield executor
        except BaseException:
            executor.shutdown(wait=False)  # cancels the units not yet done; closing a LocalCluster ends its workers
            raise


class DaskUnits(Executor):
    """Hands units to a Dask client. A unit's Dask future is let go as soon as its result is here
    (`distributed`'s own executor keeps it while the caller holds the result's future): the
    scheduler keeps only the units still to deliver, so a worker that dies later makes it compute
    again those of its units not yet delivered, not the ones the coordinator already has."""

    def __init__(self, client: Any):
        self.client = client
        self.undelivered: set[Any] = set()  # the Dask futures of the units not yet delivered
        self.lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        delivered: Future = Future()
        unit = self.client.submit(fn, *args, pure=False, **kwargs)
        with self.lock:
            self.undelivered.add(unit)
        unit.add_done_callback(functools.partial(self._deliver, delivered))  # run in Dask's callback thread
        return delivered

    def _deliver(self, delivered: Future, unit: Any) -> None:
        try:
            delivered.set_result(unit.result())
        except BaseException as exc:  # the unit's error, KilledWorker, or its cancellation
            delivered.set_exception(exc)
        finally:
            with self.lock:
                self.undelivered.discard(unit)
            unit.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Without `wait`: cancel the units not yet delivered."""
        if not wait or cancel_futures:
            with self.lock:
                undelivered = list(self.undelivered)
            self.client.cancel(undelivered)


def _connect(client_class: type, address: str) -> Any:
    try:
        return client_class(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ArchiveError(f"cannot reach the Dask scheduler at {address} ({exc}); check the address") from exc


def lost_worker(error: BaseException) -> str | None:
    """Why a unit failed when no process was left to finish it (the reason an index row gives),
    or None when the unit failed on its own."""
    if isinstance(error, BrokenProcessPool):
        return "a worker process died (out of memory, or killed); run the same command again"
    dask = sys.modules.get("distributed.scheduler")  # loaded whenever a unit ran on Dask
    if dask is not None and isinstance(error, dask.KilledWorker):
        return (
            f"Dask workers died while running it {error.allowed_failures + 1} times (out of memory, or killed; "
            "the scheduler's allowed-failures); run the same command again"
        )
    if dask is not None and isinstance(error, dask.NoValidWorkerError):
        return "no Dask worker was left to run it (the scheduler's no-workers-timeout); start workers and run the same command again"
    return None
