"""The memory-bound kernels of section (3), each as the same computation in ember, numpy and
torch. A builder takes (shape, rng, torch) and returns (bytes, runners): the bytes ember's
kernel must move at the least (each input read once, each output written once) and one
zero-argument callable per library. numpy/torch are left out where they have no equivalent.
Every library allocates its outputs, as in real use; only the optimizer step works in place.
"""

from __future__ import annotations

import math

import numpy as np

import ember
from ember import _C

F32 = 4


def _x(shape, rng):
    return rng.standard_normal(shape).astype(np.float32)


def _torch(torch, *arrays):
    return [torch.from_numpy(a) for a in arrays]


def relu_forward(shape, rng, torch):
    x = _x(shape, rng)
    runners = {"ember": lambda: _C.relu_forward(x), "numpy": lambda: np.maximum(x, 0)}
    if torch:
        (tx,) = _torch(torch, x)
        runners["torch"] = lambda: torch.relu(tx)
    return 2 * F32 * x.size, runners


def relu_backward(shape, rng, torch):
    """Random signs, as activations have: a data-dependent branch would mispredict half the
    time, which is what this row would show."""
    x, g = _x(shape, rng), _x(shape, rng)
    runners = {"ember": lambda: _C.relu_backward(g, x), "numpy": lambda: g * (x > 0)}
    if torch:
        tx, tg = _torch(torch, x, g)
        runners["torch"] = lambda: torch.ops.aten.threshold_backward(tg, tx, 0)
    return 3 * F32 * x.size, runners


def sigmoid_forward(shape, rng, torch):
    x = _x(shape, rng)
    runners = {"ember": lambda: _C.sigmoid_forward(x), "numpy": lambda: 1 / (1 + np.exp(-x))}
    if torch:
        (tx,) = _torch(torch, x)
        runners["torch"] = lambda: torch.sigmoid(tx)
    return 2 * F32 * x.size, runners


def tensor_add(shape, rng, torch):
    """ember's `a + b` on Tensors (no graph): the Tensor layer over numpy's add."""
    x, y = _x(shape, rng), _x(shape, rng)
    ex, ey = ember.from_numpy(x), ember.from_numpy(y)
    runners = {"ember": lambda: ex + ey, "numpy": lambda: x + y}
    if torch:
        tx, ty = _torch(torch, x, y)
        runners["torch"] = lambda: tx + ty
    return 3 * F32 * x.size, runners


def softmax_forward(shape, rng, torch):
    x = _x(shape, rng)

    def numpy_softmax():
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    runners = {"ember": lambda: _C.softmax_forward(x), "numpy": numpy_softmax}
    if torch:
        (tx,) = _torch(torch, x)
        runners["torch"] = lambda: torch.softmax(tx, dim=1)
    return 2 * F32 * x.size, runners


def cross_entropy(shape, rng, torch):
    """Mean cross-entropy of logits (B, C) and its gradient: read the logits twice, write the
    gradient once."""
    x = _x(shape, rng)
    rows = np.arange(shape[0])
    target = rng.integers(0, shape[1], shape[0])
    one = np.array(1.0, np.float32)

    def ember_step():
        _C.cross_entropy_forward(x, target)
        return _C.cross_entropy_backward(one, x, target)

    def numpy_step():
        m = x.max(axis=1, keepdims=True)
        e = np.exp(x - m)
        s = e.sum(axis=1, keepdims=True)
        loss = (np.log(s[:, 0]) + m[:, 0] - x[rows, target]).mean()
        grad = e / s
        grad[rows, target] -= 1
        grad /= shape[0]
        return loss, grad

    runners = {"ember": ember_step, "numpy": numpy_step}
    if torch:
        tx = torch.tensor(x, requires_grad=True)
        tt = torch.from_numpy(target)

        def torch_step():
            loss = torch.nn.functional.cross_entropy(tx, tt)
            return torch.autograd.grad(loss, tx)

        runners["torch"] = torch_step
    return 3 * F32 * x.size, runners


def max_pool_forward(shape, rng, torch):
    """2x2, stride 2; ember and torch also write int64 indices (a quarter of the elements)."""
    x = _x(shape, rng)
    n, c, h, w = shape
    runners = {
        "ember": lambda: _C.max_pool2d_forward(x, kernel_size=(2, 2), stride=(2, 2)),
        "numpy": lambda: x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5)),
    }
    if torch:
        (tx,) = _torch(torch, x)
        runners["torch"] = lambda: torch.nn.functional.max_pool2d(tx, 2, return_indices=True)
    return (F32 + (F32 + 8) / 4) * x.size, runners


def max_pool_backward(shape, rng, torch):
    x = _x(shape, rng)
    y, idx = _C.max_pool2d_forward(x, kernel_size=(2, 2), stride=(2, 2))
    dy = _x(y.shape, rng)
    runners = {"ember": lambda: _C.max_pool2d_backward(dy, idx, input_shape=x.shape)}
    if torch:
        tx, tdy, tidx = _torch(torch, x, dy, idx)
        backward = torch.ops.aten.max_pool2d_with_indices_backward
        runners["torch"] = lambda: backward(tdy, tx, [2, 2], [2, 2], [0, 0], [1, 1], False, tidx)
    return (F32 + (F32 + 8) / 4) * x.size, runners


def dropout_forward(shape, rng, torch):
    """p = 0.5. ember regenerates its mask in backward (counter-based RNG) and stores none;
    torch stores a bool mask; numpy draws uniforms, the slow part."""
    x = _x(shape, rng)
    np_rng = np.random.default_rng(1)
    runners = {
        "ember": lambda: _C.dropout_forward(x, p=0.5, seed=1, offset=0),
        "numpy": lambda: x * (np_rng.random(shape, dtype=np.float32) >= 0.5) * np.float32(2),
    }
    if torch:
        (tx,) = _torch(torch, x)
        runners["torch"] = lambda: torch.ops.aten.native_dropout(tx, 0.5, True)
    return 2 * F32 * x.size, runners


def dropout_backward(shape, rng, torch):
    g = _x(shape, rng)
    scaled_mask = (rng.random(shape) >= 0.5).astype(np.float32) * 2
    runners = {
        "ember": lambda: _C.dropout_backward(g, p=0.5, seed=1, offset=0),
        "numpy": lambda: g * scaled_mask,
    }
    if torch:
        tg, tmask = _torch(torch, g, scaled_mask.astype(bool))
        runners["torch"] = lambda: torch.ops.aten.native_dropout_backward(tg, tmask, 2.0)
    return 2 * F32 * g.size, runners


def sgd_momentum_step(shape, rng, torch):
    """In place: read param, grad, buffer; write param, buffer (20 bytes per element)."""
    n = math.prod(shape)
    p, g = _x(n, rng), _x(n, rng)
    buf = np.zeros(n, np.float32)
    lr, momentum = 1e-3, 0.9
    np_p, np_buf, tmp = p.copy(), buf.copy(), np.empty(n, np.float32)

    def numpy_step():
        np.multiply(np_buf, momentum, out=np_buf)
        np.add(np_buf, g, out=np_buf)
        np.subtract(np_p, np.multiply(np_buf, lr, out=tmp), out=np_p)

    runners = {
        "ember": lambda: _C.sgd_step(p, g, buf, lr=lr, momentum=momentum),
        "numpy": numpy_step,
    }
    if torch:
        tp, tg, tbuf = _torch(torch, p.copy(), g, buf.copy())

        def torch_step():  # torch.optim.SGD's single-tensor path
            tbuf.mul_(momentum).add_(tg)
            tp.add_(tbuf, alpha=-lr)

        runners["torch"] = torch_step
    return 5 * F32 * n, runners


def adam_step(shape, rng, torch):
    """In place: read param, grad and both moments; write param and the moments (28 bytes per
    element). Step 10 of Adam's default hyper-parameters."""
    n = math.prod(shape)
    p, g = _x(n, rng), _x(n, rng)
    m, v = _x(n, rng) * 0.1, np.abs(_x(n, rng)) * 0.01
    lr, beta1, beta2, eps, step = 1e-3, 0.9, 0.999, 1e-8, 10
    step_size = lr / (1 - beta1**step)
    bc2_sqrt = math.sqrt(1 - beta2**step)
    np_p, np_m, np_v, tmp = p.copy(), m.copy(), v.copy(), np.empty(n, np.float32)

    def numpy_step():
        np.subtract(g, np_m, out=tmp)
        np.add(np_m, np.multiply(tmp, 1 - beta1, out=tmp), out=np_m)
        np.multiply(np_v, beta2, out=np_v)
        np.add(np_v, np.multiply(np.multiply(g, g, out=tmp), 1 - beta2, out=tmp), out=np_v)
        np.add(np.divide(np.sqrt(np_v, out=tmp), bc2_sqrt, out=tmp), eps, out=tmp)
        np.subtract(np_p, np.divide(np.multiply(np_m, step_size), tmp, out=tmp), out=np_p)

    runners = {
        "ember": lambda: _C.adam_step(p, g, m, v, step, lr=lr),
        "numpy": numpy_step,
    }
    if torch:
        tp, tg, tm, tv = _torch(torch, p.copy(), g, m.copy(), v.copy())

        def torch_step():  # torch.optim.Adam's single-tensor path
            tm.lerp_(tg, 1 - beta1)
            tv.mul_(beta2).addcmul_(tg, tg, value=1 - beta2)
            denom = (tv.sqrt() / bc2_sqrt).add_(eps)
            tp.addcdiv_(tm, denom, value=-step_size)

        runners["torch"] = torch_step
    return 7 * F32 * n, runners
