# Copyright: contributors to the hybrid.identity collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a producer of batches in a child process and receive its batches as they come.

Internal to the collection; no stable API. Python runs one thread at a time, so a read that
spends its time decoding (ldap3 decodes every LDAP message in Python) takes that time from the
rest of the module even in a thread of its own. In a forked child it runs on another core: the
child sends each batch down a pipe, pickled, and this process only unpickles it.

The child is forked when `ChildBatches` is made, from the thread that makes it: make it before
the module starts threads of its own. It inherits everything it needs (settings, credentials,
imported code) and leaves by ``os._exit``, so nothing of the parent's (open sessions, temporary
files, atexit handlers) is closed or run twice.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future

from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import HybridIdentityError

_BATCH, _FAILED, _END = "batch", "failed", "end"


def can_fork() -> bool:
    """Whether this platform forks (every POSIX system Ansible runs modules on does)."""
    return hasattr(os, "fork")


class ChildEnded(HybridIdentityError):
    """The child stopped without saying it was done: killed, out of memory, or crashed."""


class ChildBatches:
    """Iterate once over what ``produce()`` yields in the child; an error it raises is raised here.

    ``what`` names the work in messages. `close` stops the child (if it is still running) and reaps it;
    use the object as a context manager, or close it, once you are done with it.
    """

    def __init__(self, produce: Callable[[], Iterable], what: str) -> None:
        self.what = what
        read_end, write_end = os.pipe()
        self._pid = os.fork()
        if self._pid == 0:  # the child: never returns
            os.close(read_end)
            _serve(produce, write_end)
        os.close(write_end)
        self._pipe = os.fdopen(read_end, "rb")
        self._status: int | None = None
        self._closing = threading.RLock()  # close and reap come from the reading thread or the caller's

    def drained(self) -> Future:
        """Receive the batches in a thread of this process, so that the child never waits on a full pipe while
        this process does other work; the future's result is every batch's items, in order, or the error."""
        received: Future = Future()

        def drain() -> None:
            try:
                received.set_result([item for batch in self for item in batch])
            except BaseException as err:  # pylint: disable=broad-exception-caught
                received.set_exception(err)

        threading.Thread(target=drain, name="child-batches", daemon=True).start()
        return received

    def __iter__(self) -> Iterator:
        try:
            while True:
                try:
                    # written by our own child, through a pipe nobody else holds
                    kind, value = pickle.load(self._pipe)  # noqa: S301
                except (EOFError, pickle.UnpicklingError, ValueError) as err:
                    # ValueError: the pipe was closed under this read (`close` from another thread)
                    raise ChildEnded(
                        f"{self.what} stopped before it was done ({self._reap()})",
                        hint="run again; if it stops again, look for the system killing processes that use too "
                             "much memory (dmesg or journalctl -k) on the host running the module") from err
                if kind == _END:
                    return
                if kind == _FAILED:
                    raise value
                yield value
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child if it still runs and reap it, then close the pipe (safe from any thread, and twice)."""
        with self._closing:
            if self._status is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGTERM)
                self._reap()
        # the child is gone: a thread still reading the pipe meets its end
        if not self._pipe.closed:
            with contextlib.suppress(OSError, ValueError):
                self._pipe.close()

    def _reap(self) -> str:
        """Wait for the child; how it ended, for messages."""
        with self._closing:
            if self._status is None:
                _pid, self._status = os.waitpid(self._pid, 0)
        if os.WIFSIGNALED(self._status):
            return f"its process was killed by signal {os.WTERMSIG(self._status)}"
        return f"its process exited with status {os.waitstatus_to_exitcode(self._status)}"

    def __enter__(self) -> ChildBatches:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _serve(produce: Callable[[], Iterable], write_end: int) -> None:
    """The child's life: send each batch, then the end or the error, and leave without cleaning up the parent's."""
    status = 0
    try:
        # the module's standard streams are the controller's: the child neither reads nor writes them, nor keeps
        # them open (the controller waits for their end, which must come when the parent exits)
        quiet = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(quiet, stream)
        os.close(quiet)
        sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (left open till os._exit)
        with os.fdopen(write_end, "wb") as pipe:
            try:
                for batch in produce():
                    pickle.dump((_BATCH, batch), pipe, protocol=pickle.HIGHEST_PROTOCOL)
                    pipe.flush()
                message = (_END, None)
            except Exception as err:  # pylint: disable=broad-exception-caught
                # sent to the parent, which raises it where the batches are read
                message = (_FAILED, _picklable(err))
            pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # pylint: disable=broad-exception-caught
        # the parent went away (a broken pipe) or stopped the child: nobody is left to tell
        status = 1
    finally:
        os._exit(status)  # pylint: disable=protected-access


def _picklable(err: Exception) -> Exception:
    """``err`` itself when it survives pickling with its message and hint; else the same words as our own error."""
    try:
        copy = pickle.loads(pickle.dumps(err, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 (our own bytes)
    except Exception:  # pylint: disable=broad-exception-caught
        copy = None
    if type(copy) is type(err) and str(copy) == str(err):
        return err
    return HybridIdentityError(f"{type(err).__name__}: {err}", hint=getattr(err, "hint", ""))
