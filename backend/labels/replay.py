"""Applying tag operations to label sets: the one rule that both materialisation and replay use."""

from __future__ import annotations

from collections.abc import Iterable

OPS = ("set", "add", "remove", "clear")


def apply_op(state: frozenset[int], op: str, label_id: int | None) -> frozenset[int]:
    """The labels an item holds after one tag operation."""
    if op == "set":
        return frozenset() if label_id is None else frozenset((label_id,))
    if op == "add":
        return state | {label_id} if label_id is not None else state
    if op == "remove":
        return state - {label_id}
    if op == "clear":
        return frozenset()
    raise ValueError(f"unknown tag operation {op!r}")


def replay(tags: Iterable[tuple[int, str, int | None]]) -> dict[int, frozenset[int]]:
    """Labels per item from ordered (item_id, op, label_id) rows; items left with none are dropped."""
    state: dict[int, frozenset[int]] = {}
    for item_id, op, label_id in tags:
        state[item_id] = apply_op(state.get(item_id, frozenset()), op, label_id)
    return {item_id: labels for item_id, labels in state.items() if labels}
