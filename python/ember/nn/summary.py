"""summary(model, input_shape): a table of every module's output shape and parameter count,
measured by running one forward pass (eval mode, no grad) on zeros with forward hooks."""

from __future__ import annotations

from dataclasses import dataclass

from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad
from ember.nn._factory import new_tensor
from ember.nn.module import Module


@dataclass
class LayerRow:
    name: str  # dotted path in the model ('' for the model itself)
    type: str
    depth: int
    output_shape: object  # a tuple, a list of tuples for several outputs, or None if not run
    num_params: int  # parameters of this module and its descendants


@dataclass
class ModelSummary:
    """What `summary` measured; str() / repr() is the table."""

    rows: list
    total_params: int
    trainable_params: int
    param_bytes: int

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        header = ("Layer (type)", "Output Shape", "Param #")
        cells = [
            (
                "  " * row.depth
                + (f"{row.name.rsplit('.', 1)[-1]} ({row.type})" if row.name else row.type),
                "--" if row.output_shape is None else _shape_text(row.output_shape),
                f"{row.num_params:,}",
            )
            for row in self.rows
        ]
        w0 = max(len(header[0]), *(len(c[0]) for c in cells)) + 2
        w1 = max(len(header[1]), *(len(c[1]) for c in cells)) + 2
        w2 = max(len(header[2]), *(len(c[2]) for c in cells))
        width = w0 + w1 + w2
        lines = ["-" * width, f"{header[0]:<{w0}}{header[1]:<{w1}}{header[2]:>{w2}}", "=" * width]
        lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in cells]
        lines += [
            "=" * width,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Params size (MB): {self.param_bytes / 2**20:.2f}",
            "-" * width,
        ]
        return "\n".join(lines)

    __repr__ = __str__


def _shape_text(shape) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _output_shape(output):
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return [_output_shape(o) for o in output]
    return None


def summary(model: Module, input_shape, dtype=None, device=None) -> ModelSummary:
    """Run `model` once on zeros of `input_shape` (batch dimension included, e.g.
    (1, 1, 28, 28); a list of shapes for several inputs) and tabulate each module's output
    shape and parameters. dtype and device default to those of the model's first parameter.
    The model's training flags are restored afterwards; BatchNorm statistics are untouched
    (the pass runs in eval mode)."""
    first = next(iter(model.parameters()), None)
    if dtype is None:
        dtype = first.dtype if first is not None else None
    if device is None and first is not None:
        device = first.device
    shapes = input_shape if isinstance(input_shape[0], (tuple, list)) else [input_shape]
    inputs = [new_tensor("zeros", tuple(s), device, dtype) for s in shapes]

    named = list(model.named_modules())
    outputs: dict = {}
    handles = [
        m.register_forward_hook(lambda mod, args, out: outputs.__setitem__(id(mod), out))
        for _, m in named
    ]
    modes = [(m, m.training) for _, m in named]
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.__dict__["training"] = mode

    rows = [
        LayerRow(
            name,
            m._get_name(),
            name.count(".") + 1 if name else 0,
            _output_shape(outputs[id(m)]) if id(m) in outputs else None,
            sum(p.numel() for p in m.parameters()),
        )
        for name, m in named
    ]
    params = list(model.parameters())
    return ModelSummary(
        rows=rows,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        param_bytes=sum(p.numel() * p.element_size() for p in params),
    )
