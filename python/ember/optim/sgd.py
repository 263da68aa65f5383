"""Stochastic gradient descent with momentum (torch.optim.SGD)."""

from __future__ import annotations

from typing import Any

from ember._tensor import Tensor, _wrap
from ember.optim.optimizer import Optimizer, ParamsT


class SGD(Optimizer):
    """SGD, with PyTorch's semantics, for each parameter p with gradient g:

        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum != 0:
            b = g                                        on the first step
            b = momentum * b + (1 - dampening) * g       afterwards
            g = g + momentum * b if nesterov else b
        p = p - lr * g

    The momentum buffer b is state["momentum_buffer"]. The update is one fused kernel pass per
    parameter. With foreach (None, the default, or True) the parameters of a group on one device
    whose buffers exist are stepped by one kernel call, as torch's foreach implementation: a
    small model's step is otherwise mostly per-call overhead. foreach=False makes one call per
    parameter; the results are the same bit for bit.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    @staticmethod
    def _validate(group: dict[str, Any]) -> None:
        if not group["lr"] >= 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not group["momentum"] >= 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if not group["weight_decay"] >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        foreach = group.get("foreach")
        if foreach is not None and not isinstance(foreach, bool):
            raise ValueError(f"foreach must be None, True or False, got {foreach!r}")

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        if group.get("foreach") is False:
            return super()._step_group(group, params)
        momentum = group["momentum"]
        state = self.state
        batches: dict[Any, tuple[list, list, list]] = {}
        for p in params:
            backend = p._device.backend
            grad = backend.contiguous(p.grad._data)
            buffer = None
            if momentum != 0:
                buffer = state[p].get("momentum_buffer")
                if buffer is None:  # its first step creates the buffer
                    self._update(p, grad, state[p], group)
                    continue
                buffer = buffer._data
            batch = batches.get(p._device)
            if batch is None:
                batch = batches[p._device] = ([], [], [])
            batch[0].append(p._data)
            batch[1].append(grad)
            batch[2].append(buffer)
        for device, (data, grads, buffers) in batches.items():
            device.backend.sgd_step_many(data, grads, buffers, **_kernel_options(group))

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        backend = param._device.backend
        momentum = group["momentum"]
        buffer, first_step = None, False
        if momentum != 0:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                # The kernel overwrites it with the first gradient: no need to zero it.
                buffer = state["momentum_buffer"] = _wrap(
                    backend.empty(param.shape, param.dtype), param._device
                )
                first_step = True
            buffer = buffer._data
        backend.sgd_step(param._data, grad, buffer, **_kernel_options(group), first_step=first_step)


def _kernel_options(group: dict[str, Any]) -> dict[str, Any]:
    """The hyper-parameters the backends' sgd_step and sgd_step_many take, from a group."""
    return {
        name: group[name]
        for name in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
    }
