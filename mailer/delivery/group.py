"""Group commit: the outcomes several connections are waiting to record, in one transaction.

The durability rule (../shared/DESIGN.md) is that a connection's outcome is
committed, together with the mark on its next row, before that next message
goes out. On SQLite every such commit takes the one write lock, so the
connections of a process used to queue for it and commit one by one. Here
the first thread to arrive becomes the leader: it commits its own request
and every request that arrived while the previous transaction ran, then
wakes their threads (the classic leader/follower group commit). Nobody's
message goes out before its own outcome is committed, so the rule is kept
exactly; what changes is that one commit serves every connection that was
waiting for one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Ticket(Generic[T, R]):
    item: T
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Runs ``commit`` over the items submitted meanwhile; each submitter gets its result.

    ``commit(items)`` returns one result per item, in order. If it raises
    for a group of several, each item is committed alone, so the exception
    reaches only the submitters whose own item fails.
    """

    def __init__(self, commit: Callable[[Sequence[T]], Sequence[R]]) -> None:
        self._commit = commit
        self._cond = threading.Condition()
        self._queue: list[_Ticket[T, R]] = []
        self._leading = False
        self.groups = 0  # commits made, for tests and the benchmark's account
        self.items = 0

    def submit(self, item: T) -> R:
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._cond:
            self._queue.append(ticket)
            while self._leading and not ticket.done:
                self._cond.wait()
            if not ticket.done:
                # No commit is running: lead one with everything queued so far.
                self._leading = True
                group, self._queue = self._queue, []
        if not ticket.done:
            self._lead(group)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _lead(self, group: list[_Ticket[T, R]]) -> None:
        try:
            results = self._commit([t.item for t in group])
            for t, result in zip(group, results, strict=True):
                t.result = result
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
            else:
                # The transaction was rolled back whole: one member's bad item
                # (a refused value, a constraint) must not take the others'
                # outcomes with it — their messages went out, and unrecorded
                # they would be requeued in doubt and sent again.
                for t in group:
                    try:
                        t.result = self._commit([t.item])[0]
                    except BaseException as exc:
                        t.error = exc
        except BaseException as exc:  # every waiter must hear of it, then it propagates
            for t in group:
                t.error = exc
        with self._cond:
            self.groups += 1
            self.items += len(group)
            for t in group:
                t.done = True
            self._leading = False
            self._cond.notify_all()
