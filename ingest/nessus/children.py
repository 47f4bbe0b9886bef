"""Child processes (the workers of :mod:`.parallel` and :mod:`.files`, the byte check of
``--strict``) that never outlive the process that forked them."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Called first in a forked child of ``parent``: the child ends when its parent does,
    however the parent ended (even SIGKILL). On Linux the kernel sends it SIGKILL
    (``PR_SET_PDEATHSIG``); elsewhere a thread watches for the parent to go. Otherwise an idle
    worker would wait for work forever, holding the input, the temporary output and the
    parent's stdout/stderr. SIGTERM ends a child at once (the parent's handler, inherited
    through fork, cleans up the parent's files, not a child's)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    watched = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            watched = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            watched = False
    if os.getppid() != parent:          # the parent ended before the watch began
        os._exit(1)
    if not watched:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)
