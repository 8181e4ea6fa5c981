"""Read ahead: the next items of an iterator are made in a thread while the current one is used."""

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

_DONE = object()
_POLL_SECONDS = 0.1


def prefetched(items: Iterable[Item], depth: int = 1) -> Iterator[Item]:
    """Yield the items of ``items`` while a thread makes up to ``depth`` more ahead.

    Reading and decompressing (uproot, numpy, awkward) release the GIL for most of their
    time, and so does a PyTorch or ONNX Runtime forward pass, so reading the next chunk
    overlaps scoring the current one. At most ``depth + 2`` items exist at once (the one
    in use, the queued ones and the one being made). An exception in the thread is raised
    here, at the item where it happened; when the consumer stops early (an error, an
    interrupt, ``close()``), the thread stops after the item it is making.

    Parameters
    ----------
    items : iterable
        What to read ahead (e.g. a generator of chunks).
    depth : int
        Items made ahead of the consumer (at least 1).
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            offer(_Failure(error))
            return
        offer(_DONE)

    worker = threading.Thread(target=produce, name="heplearn-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
