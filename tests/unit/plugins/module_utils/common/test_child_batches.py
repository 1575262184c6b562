"""The child process a bulk read decodes in: what it yields arrives whole and in order, what goes wrong is said."""

import atexit
import os
import signal
import threading
import time

import pytest

from ansible_collections.hybrid.identity.plugins.module_utils.common._child_batches import ChildBatches, ChildEnded
from ansible_collections.hybrid.identity.plugins.module_utils.common._errors import ConfigurationError
from ansible_collections.hybrid.identity.plugins.module_utils.matching._matching_model import OnPremUser


def _users(batches: int, per_batch: int):
    for batch in range(batches):
        yield [OnPremUser(f"CN=u{batch}-{n},DC=x", proxy_addresses=(f"SMTP:u{batch}-{n}@x.com",))
               for n in range(per_batch)]


def _os_threads() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def _only_this_thread_left():
    """Wait for the threads of earlier tests to end, as the operating system counts them (so does fork's warning)."""
    deadline = time.monotonic() + 10
    while (threading.active_count() > 1 or _os_threads() > 1) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == 1


def _pid_of_the_producer():
    yield [os.getpid()]


def test_the_batches_arrive_whole_in_order_and_made_in_another_process():
    with ChildBatches(lambda: _users(7, 500), "the read") as batches:
        received = list(batches)
    assert received == list(_users(7, 500))
    with ChildBatches(_pid_of_the_producer, "the read") as batches:
        [[pid]] = list(batches)
    assert pid != os.getpid()


def test_an_error_of_ours_arrives_with_its_message_and_hint_after_the_batches_before_it():
    def produce():
        yield ["first"]
        raise ConfigurationError("ldap_filter '(x' is not a valid LDAP filter", hint="write an RFC 4515 filter")

    received = []
    with ChildBatches(produce, "the read") as batches, pytest.raises(ConfigurationError) as raised:
        received.extend(batches)
    assert received == [["first"]]
    assert str(raised.value) == "ldap_filter '(x' is not a valid LDAP filter"
    assert raised.value.hint == "write an RFC 4515 filter"


class _Unpicklable(Exception):
    def __init__(self, code, detail):
        super().__init__(f"{code}: {detail}")
        self.code = code


def test_an_error_that_does_not_survive_pickling_still_arrives_in_words():
    def produce():
        raise _Unpicklable(49, "invalid credentials")
        yield  # pylint: disable=unreachable

    with ChildBatches(produce, "the read") as batches, pytest.raises(Exception, match="49: invalid credentials"):
        list(batches)


def test_a_child_that_dies_is_a_loud_failure_never_a_short_read():
    def produce():
        yield ["first"]
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
        yield ["never"]

    received = []
    with ChildBatches(produce, "the read of OU=Staff") as batches, \
            pytest.raises(ChildEnded, match=r"the read of OU=Staff stopped before it was done \(its process was "
                                            r"killed by signal 9\)"):
        received.extend(batches)
    assert received == [["first"]]


def test_a_child_that_exits_in_the_middle_is_reported_with_its_status():
    def produce():
        yield ["first"]
        os._exit(3)

    with ChildBatches(produce, "the read") as batches, pytest.raises(ChildEnded, match="exited with status 3"):
        list(batches)


def test_closing_early_stops_the_child_and_reaps_it():
    def endless():
        while True:
            yield ["more"]

    batches = ChildBatches(endless, "the read")
    iterator = iter(batches)
    assert next(iterator) == ["more"]
    pid = batches._pid  # pylint: disable=protected-access
    batches.close()
    # reaped: the process is gone, not a zombie
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    batches.close()  # twice is harmless


def test_the_child_leaves_without_running_the_parents_exit_handlers(tmp_path):
    marker = tmp_path / "atexit-ran"

    def produce():
        atexit.register(marker.write_text, "ran")
        yield ["done"]

    with ChildBatches(produce, "the read") as batches:
        assert list(batches) == [["done"]]
    time.sleep(0.05)
    assert not marker.exists()


def test_the_child_neither_writes_to_nor_holds_the_modules_standard_streams(tmp_path, capfd):
    def produce():
        print("a line that would corrupt the module's JSON")
        yield [os.readlink("/proc/self/fd/1")]

    with ChildBatches(produce, "the read") as batches:
        [[stdout]] = list(batches)
    assert stdout == os.devnull
    assert "corrupt" not in capfd.readouterr().out


def test_drained_receives_in_a_thread_so_the_child_never_waits_on_a_full_pipe():
    # far more than a pipe holds (64 KiB): without a reader the child would block on its first few batches
    with ChildBatches(lambda: _users(40, 500), "the read") as batches:
        received = batches.drained()
        time.sleep(0.2)  # this process busy elsewhere; the thread keeps the pipe empty
        users = received.result(timeout=30)
    assert users == [user for batch in _users(40, 500) for user in batch]


def test_drained_gives_the_childs_error_and_closing_early_ends_the_thread():
    def produce():
        yield ["first"]
        raise ConfigurationError("search_base 'OU=Nowhere' does not exist", hint="name an existing OU")

    _only_this_thread_left()
    with ChildBatches(produce, "the read") as batches, pytest.raises(ConfigurationError, match="does not exist"):
        batches.drained().result(timeout=30)

    def endless():
        while True:
            yield ["more"] * 100

    _only_this_thread_left()  # the module forks before it starts threads; so does this test
    batches = ChildBatches(endless, "the read")
    received = batches.drained()
    batches.close()  # as when the Graph read failed first
    with pytest.raises(ChildEnded):
        received.result(timeout=30)
