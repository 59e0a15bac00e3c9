"""The checkpointer's serializer, remembering the objects of the checkpoints it last wrote and
read, so that a conversation's message list is decoded once rather than twice per turn.

Every turn reads the conversation's latest checkpoint twice (the history load, and the save,
which applies the turn to the checkpoint it reads again) and each checkpoint holds the whole
message list: decoding it (a pydantic object per message) cost ~15 µs per message, 4.7 ms
per read at 80 turns. A checkpoint's bytes never change once written (a save writes a new
checkpoint), so the object decoded from the same bytes can be handed out again: as a fresh
copy of its dicts and lists, sharing the messages, which nothing changes in place (the
messages reducer and the chains build new lists). Bytes from another worker's save are new
bytes, decoded as before.
"""

from collections import OrderedDict
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

REMEMBERED_BYTES = 32 * 1024 * 1024  # encoded size of the objects kept, most recent first
CACHED_TYPE = "msgpack"  # JsonPlusSerializer's encoding of everything but bytes and None


class RememberingSerializer(SerializerProtocol):
    """`inner` (the checkpointer's own serializer), with the objects of the most recently
    written or read checkpoints kept by their encoded bytes, up to `max_bytes` of them."""

    def __init__(self, inner: SerializerProtocol, max_bytes: int = REMEMBERED_BYTES) -> None:
        self._inner = inner
        self._max_bytes = max_bytes
        self._objects: OrderedDict[bytes, Any] = OrderedDict()
        self._bytes = 0

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        type_, data = self._inner.dumps_typed(obj)
        if type_ == CACHED_TYPE:
            self._remember(data, _fresh(obj))
        return type_, data

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        type_, encoded = data
        if type_ != CACHED_TYPE or not isinstance(encoded, bytes):
            return self._inner.loads_typed(data)
        if encoded in self._objects:
            self._objects.move_to_end(encoded)
            return _fresh(self._objects[encoded])
        obj = self._inner.loads_typed(data)
        self._remember(encoded, _fresh(obj))
        return obj

    def _remember(self, encoded: bytes, obj: Any) -> None:
        if len(encoded) > self._max_bytes // 8 or encoded in self._objects:
            return  # one huge conversation would push out every other
        self._objects[encoded] = obj
        self._bytes += len(encoded)
        while self._bytes > self._max_bytes:
            forgotten, _ = self._objects.popitem(last=False)
            self._bytes -= len(forgotten)


def _fresh(value: Any) -> Any:
    """`value` with its dicts and lists copied, its other objects (messages) shared."""
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) if isinstance(item, dict | list) else item for item in value]
    return value
