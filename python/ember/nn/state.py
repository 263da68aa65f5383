"""Module.load_state_dict: checking a state dict against a module and copying it in, with
torch's key semantics and error messages."""

from __future__ import annotations

from collections import namedtuple

from ember._tensor import Tensor


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def load_state_dict(module, state_dict, strict: bool = True) -> IncompatibleKeys:
    """See Module.load_state_dict. Every problem is collected first and reported in one
    RuntimeError (missing keys, unexpected keys, then shape mismatches, as torch); nothing is
    copied unless all is well."""
    if not hasattr(state_dict, "items"):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    own = module.state_dict(keep_vars=True)
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    errors = []
    if strict:
        if unexpected:
            errors.append(
                "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". "
            )
        if missing:
            errors.insert(
                0,
                "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ",
            )
    copies = []
    for key, target in own.items():
        if key not in state_dict:
            continue
        value = state_dict[key]
        source = value._data if isinstance(value, Tensor) else value
        shape = getattr(source, "shape", None)
        if shape is None:
            errors.append(
                f'While copying the parameter named "{key}", expected a Tensor or array '
                f"from checkpoint but received {type(value)}"
            )
        elif tuple(shape) != target.shape:
            errors.append(
                f"size mismatch for {key}: copying a param with shape {tuple(shape)} from "
                f"checkpoint, the shape in current model is {target.shape}."
            )
        else:
            copies.append((target, source))
    if errors:
        raise RuntimeError(
            f"Error(s) in loading state_dict for {module._get_name()}:\n\t" + "\n\t".join(errors)
        )
    for target, source in copies:
        target._device.backend.copy_into(target._data, source)
    return IncompatibleKeys(missing, unexpected)
