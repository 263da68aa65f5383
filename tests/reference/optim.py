"""Float64 NumPy references for the optimizer steps, written from PyTorch's documented update
rules (torch.optim.SGD, Adam, AdamW). Each function returns the new parameter and state without
touching its arguments.
"""

import numpy as np


def sgd_step(
    param,
    grad,
    buf,
    *,
    lr,
    momentum=0.0,
    dampening=0.0,
    weight_decay=0.0,
    nesterov=False,
    maximize=False,
):
    """Returns (param, buf); buf is None before the first step (and stays None without momentum)."""
    g = -grad if maximize else grad
    g = g + weight_decay * param
    if momentum != 0:
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    return param - lr * g, buf


def adam_state(param, amsgrad):
    state = {"exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param), "step": 0}
    if amsgrad:
        state["max_exp_avg_sq"] = np.zeros_like(param)
    return state


def adam_step(
    param,
    grad,
    state,
    *,
    lr=1e-3,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.0,
    decoupled_weight_decay=False,
    amsgrad=False,
    maximize=False,
):
    """Adam (L2 penalty added to the gradient) or, with decoupled_weight_decay, AdamW (parameter
    shrunk by lr * weight_decay). Returns (param, state); state['step'] counts completed steps."""
    t = state["step"] + 1
    g = -grad if maximize else grad
    if decoupled_weight_decay:
        param = param * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * param
    m = beta1 * state["exp_avg"] + (1 - beta1) * g
    v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    new_state = {"exp_avg": m, "exp_avg_sq": v, "step": t}
    if amsgrad:
        v = np.maximum(state["max_exp_avg_sq"], v)
        new_state["max_exp_avg_sq"] = v
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), new_state
