"""The Optimizer base class: parameter groups, the loop over parameters, zero_grad and the
state_dict, in PyTorch's shapes. A subclass defines `_update`, one parameter's step, which
calls a fused kernel of the parameter's device backend on the raw arrays, in place; it may also
define `_step_group` to update a whole group's parameters in fewer kernel calls.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ember._tensor import Tensor, _wrap
from ember.autograd.grad_mode import enable_grad
from ember.backends import backend_for

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]

_SET_ERROR = (
    "optimizer parameters need to be organized in ordered collections, but the ordering of "
    "tensors in sets will change between runs. Please use a list instead."
)


class Optimizer:
    """Base of ember's optimizers.

    params: an iterable of Tensors, or of dicts (parameter groups), each with a "params" entry and
    any hyper-parameters that override `defaults` for that group. `param_groups` is the list of
    those dicts with every default filled in (schedulers rewrite group["lr"]); `state` maps each
    parameter to its buffers (momentum, moments, step count), created on its first update.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self._validate(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                "dicts, but got a Tensor"
            )
        if isinstance(params, set):
            raise TypeError(_SET_ERROR)
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- what a subclass defines ---------------------------------------------------------------

    @staticmethod
    def _validate(group: dict[str, Any]) -> None:
        """Raise ValueError for an invalid hyper-parameter of a group (or of the defaults)."""

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        """One step of one parameter, in place; grad is a C-contiguous backend array."""
        raise NotImplementedError

    # ---- groups ---------------------------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (e.g. layers unfrozen during fine-tuning) with its own
        hyper-parameters; the ones it does not set come from the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(_SET_ERROR)
        else:
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len(set(params)) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        taken = set().union(*(g["params"] for g in self.param_groups))
        if not taken.isdisjoint(params):
            raise ValueError("some parameters appear in more than one parameter group")
        group = {**self.defaults, **param_group, "params": params}
        self._validate(group)
        self.param_groups.append(group)

    # ---- the step -------------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set every .grad to None (the default, which frees the memory and
        lets step() skip the parameter) or fill them with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    backend_for(p.grad.device).copy_into(p.grad._data, 0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. closure, when given, re-evaluates the
        model and returns the loss (called with grad enabled; its loss is returned)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._step_group(group, params)
        return loss

    def _step_group(self, group: dict[str, Any], params: list[Tensor]) -> None:
        """Update `params` (the group's parameters that have a gradient): one `_update` each,
        unless a subclass steps them together."""
        state = self.state
        for p in params:
            self._update(p, backend_for(p._device).contiguous(p.grad._data), state[p], group)

    # ---- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: value}}, "param_groups": [{..., "params": [index, ...]}]},
        parameters numbered in group order, as torch. The state's tensors are the live buffers
        (not copies): save or clone them before stepping again."""
        index: dict[Tensor, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(p, len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[p]: dict(s) for p, s in self.state.items() if p in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from state_dict() of an optimizer over parameters of the same shapes, grouped
        the same way. Hyper-parameters come from the saved groups; buffers are copied (cast to
        each parameter's dtype), so the source optimizer and this one never share memory."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer has "
                f"{len(self.param_groups)}"
            )
        by_index: dict[Any, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {i} has {len(saved['params'])} "
                    f"parameters, the optimizer's has {len(group['params'])}"
                )
            by_index.update(zip(saved["params"], group["params"]))

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if key not in by_index:
                raise ValueError(
                    f"loaded state dict has state for parameter {key!r}, which no group holds"
                )
            p = by_index[key]
            state[p] = {name: _state_value(p, key, name, v) for name, v in values.items()}

        groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            hyper = copy.deepcopy({k: v for k, v in saved.items() if k != "params"})
            new_group = {**group, **hyper, "params": group["params"]}
            self._validate(new_group)
            groups.append(new_group)
        self.param_groups = groups
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _state_value(param: Tensor, index: Any, name: str, value: Any) -> Any:
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    if value.shape != param.shape:
        raise ValueError(
            f"loaded state '{name}' of parameter {index!r} has shape {tuple(value.shape)}, the "
            f"parameter has {tuple(param.shape)}"
        )
    dtype = param.dtype if value.is_floating_point() else value.dtype
    host = value.detach().cpu().numpy()
    return _wrap(backend_for(param.device).from_data(host, dtype), param.device)
