"""Rasa's Redis lock store, made safe for several Rasa instances (imported by
the Rasa server through config/endpoints.production.yml, not by the gateway).

Rasa Open Source 3.6's RedisLockStore reads a conversation's ticket lock,
changes it in Python and writes it back, in separate Redis commands. Two
instances handling messages of the same conversation at the same moment can
overwrite each other's tickets, or one can delete the lock while the other has
just queued on it; the second message then fails with "Could not acquire
lock" and is lost (tests/test_scaling.py caught exactly that). Here every
read-modify-write of a lock is one optimistic Redis transaction (WATCH, MULTI,
EXEC, retried when the lock changed in between), so the ticket order holds
across instances. Storage format and keys are Rasa's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# What a change does with the lock: save it, delete it, or leave it as it is.
_KEEP = object()


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        """From the endpoints file (`type: bot.rasa_lock_store.AtomicRedisLockStore`,
        the same keys as `type: redis`), or with RedisLockStore's own arguments."""
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: str, change: Callable[[TicketLock | None], tuple[Any, Any]]) -> Any:
        """Apply `change(lock) -> (result, TicketLock | None | _KEEP)` atomically:
        None deletes the lock, a TicketLock is saved."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> Any:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            result, after = change(lock)
            pipe.multi()
            if after is None:
                pipe.delete(key)
            elif after is not _KEEP:
                pipe.set(key, after.dumps())
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[int, TicketLock]:
            lock = lock or self.create_lock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # as RedisLockStore: any failure is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[None, Any]:
            if lock is None:
                return None, _KEEP
            lock.remove_expired_tickets()
            return None, lock

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> tuple[None, Any]:
            if lock is None:
                return None, _KEEP
            lock.remove_ticket_for(ticket_number)
            return None, lock

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Finish serving the ticket and delete the lock when nobody else waits,
        in one step: a ticket issued meanwhile is never deleted with the lock."""

        def finish_and_maybe_delete(lock: TicketLock | None) -> tuple[None, Any]:
            if lock is None:
                return None, _KEEP
            lock.remove_ticket_for(ticket_number)
            return None, (lock if lock.is_someone_waiting() else None)

        self._change(conversation_id, finish_and_maybe_delete)
