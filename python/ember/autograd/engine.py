"""The backward pass: walk the tape from the roots to the leaves.

1. Count, for every op node reachable from the roots, how many edges point at it (its
   consumers).
2. Start from the roots with their seed gradients. A node runs once all its consumers have run
   (its count reached zero), with the sum of the gradients they sent it; it then sends one
   gradient along each input edge. That is a reverse topological order without a sort.
3. A gradient sent to a leaf's AccumulateGrad node is added into `leaf.grad` at once (leaves
   have no inputs, so nothing waits on them).

Unless retain_graph is set, each node's saved arrays are dropped after it ran, and the node is
marked freed: a second backward through it raises instead of silently reusing stale state.

With `capture` (autograd.grad), gradients reaching the captured edges are returned instead, and
no `.grad` is touched; leaves are then scheduled like any node so their inputs can be summed.
"""

from __future__ import annotations

from itertools import repeat

from ember.autograd.function import FREED_MESSAGE, AccumulateGrad, run_hooks


def run_backward(roots, seeds, retain_graph: bool = False, capture=None):
    """Backpropagate `seeds` (arrays) from `roots` (edges). With `capture` (a list of edges),
    return the gradient reaching each captured edge (None where none did); otherwise
    accumulate into the leaves and return None."""
    eager = capture is None
    consumers = _count_consumers(roots, eager)
    root = roots[0][0]
    if len(roots) == 1 and root._out_meta is None:  # the common case: loss.backward()
        pending = {root: seeds[0]}
        ready = [root]
    else:
        pending, ready = {}, []
        for (node, nr), g in zip(roots, seeds):
            _send(pending, node, nr, g)
            if consumers[node] == 0 and node not in ready:
                ready.append(node)
    captured_at = results = None
    if not eager:
        captured_at, results = {}, [None] * len(capture)
        for pos, (node, nr) in enumerate(capture):
            captured_at.setdefault(node, []).append((nr, pos))

    while ready:
        node = ready.pop()
        grads = pending.pop(node, None)
        if captured_at is not None and grads is not None and node in captured_at:
            for nr, pos in captured_at[node]:
                results[pos] = grads if node._out_meta is None else grads[nr]
        if node.__class__ is AccumulateGrad:
            if eager and grads is not None:
                node.accumulate(grads)  # runs the leaf's hooks
            continue
        if node._hooks is not None and grads is not None:
            grads = _hooked(node, grads)
        edges = node._edges
        if grads is None:  # nothing reached this node: it sends nothing, but releases its inputs
            outs = repeat(None)
        else:
            if node._out_meta is None:
                if grads.__class__ is not node.backend.array_type:
                    grads = node.backend.asarray(grads)  # NumPy hands back 0-d results as scalars
                outs = node.backward(node, grads)
            else:
                outs = _backward_multi(node, grads)
            if outs.__class__ is not tuple:
                outs = (outs,)
            if len(outs) != len(edges):
                outs = _check_count(node, outs)
        if not retain_graph:
            node._saved = None
        fresh = node.fresh_gradients
        for e, g in zip(edges, outs):
            if e is None:
                continue
            child = e[0]
            if eager and child.__class__ is AccumulateGrad:
                if g is not None:
                    child.accumulate(g, fresh)
                continue
            if g is not None:
                if child._out_meta is None:
                    prev = pending.get(child)
                    pending[child] = g if prev is None else _sum(prev, g, child)
                else:
                    _send(pending, child, e[1], g)
            left = consumers[child] - 1
            consumers[child] = left
            if left == 0:
                ready.append(child)
    return results


def _count_consumers(roots, skip_leaves: bool) -> dict:
    consumers = {}
    stack = []
    for node, _ in roots:
        if node not in consumers:
            consumers[node] = 0
            stack.append(node)
    while stack:
        node = stack.pop()
        if node._saved is None:
            raise RuntimeError(FREED_MESSAGE)
        for e in node._edges:
            if e is None:
                continue
            child = e[0]
            if skip_leaves and child.__class__ is AccumulateGrad:
                continue
            count = consumers.get(child)
            if count is None:
                consumers[child] = 1
                stack.append(child)
            else:
                consumers[child] = count + 1
    return consumers


def _send(pending: dict, node, nr: int, g) -> None:
    """Add gradient g for output `nr` of `node` to what it has received so far."""
    meta = node._out_meta
    if meta is None:
        prev = pending.get(node)
        pending[node] = g if prev is None else _sum(prev, g, node)
        return
    slots = pending.get(node)
    if slots is None:
        slots = pending[node] = [None] * len(meta)
    prev = slots[nr]
    slots[nr] = g if prev is None else _sum(prev, g, node)


def _sum(a, b, node):
    if a.shape != b.shape:
        raise RuntimeError(
            f"gradients of shapes {a.shape} and {b.shape} reached the same output of "
            f"{node.name()}: an op's backward returned a gradient of the wrong shape"
        )
    return a + b  # a new array: either operand may be a caller's or a read-only view


def _hooked(node, grads):
    if node._out_meta is None:
        return run_hooks(node._hooks, grads)
    return [g if g is None else run_hooks(node._hooks, g, nr) for nr, g in enumerate(grads)]


def _backward_multi(node, grads: list):
    """A multi-output node's backward, with zeros for outputs no gradient reached (as torch)."""
    zeros = node.backend.zeros
    return node.backward(
        node, *[zeros(s, d) if g is None else g for g, (s, d) in zip(grads, node._out_meta)]
    )


def _check_count(node, outs: tuple) -> tuple:
    n = len(node._edges)
    if len(outs) > n and all(g is None for g in outs[n:]):
        return outs[:n]
    raise RuntimeError(
        f"function {node.name()} returned an incorrect number of gradients "
        f"(expected {n}, got {len(outs)})"
    )
