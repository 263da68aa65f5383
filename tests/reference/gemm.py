"""Float64 NumPy references for matrix multiply and the fully connected layer, written from their
definitions as index sums (einsum), independently of ember."""

import numpy as np

# op(a) @ op(b) as an index sum, for each (trans_a, trans_b): a is (M, K) or (K, M), b is (K, N)
# or (N, K); the result is (M, N).
_GEMM_SUBSCRIPTS = {
    (False, False): "ik,kj->ij",
    (False, True): "ik,jk->ij",
    (True, False): "ki,kj->ij",
    (True, True): "ki,jk->ij",
}


def gemm(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None):
    """alpha * op(a) @ op(b) + beta * c; c is not read when beta == 0."""
    out = alpha * np.einsum(_GEMM_SUBSCRIPTS[(trans_a, trans_b)], a, b)
    if beta != 0.0:
        out = out + beta * c
    return out


def gemm_backward(dout, a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """Gradients of sum(dout * gemm(...)) with respect to a, b (as stored) and c.

    d op(a) = alpha * dout @ op(b)^T and d op(b) = alpha * op(a)^T @ dout; a stored transposed
    receives the transpose."""
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    d_op_a = alpha * np.einsum("ij,kj->ik", dout, op_b)
    d_op_b = alpha * np.einsum("ik,ij->kj", op_a, dout)
    return {
        "a": d_op_a.T if trans_a else d_op_a,
        "b": d_op_b.T if trans_b else d_op_b,
        "c": beta * dout,
    }


def bmm(a, b, trans_a=False, trans_b=False):
    """Batched op(a[i]) @ op(b[i])."""
    lhs = "bki" if trans_a else "bik"
    rhs = "bjk" if trans_b else "bkj"
    return np.einsum(f"{lhs},{rhs}->bij", a, b)


def linear(x, weight, bias=None):
    """y[n, o] = sum_i x[n, i] * weight[o, i] + bias[o]."""
    y = np.einsum("ni,oi->no", x, weight)
    return y if bias is None else y + bias


def linear_backward(dout, x, weight):
    """dx = dout @ weight, dweight = dout^T @ x, dbias = column sums of dout."""
    return {
        "x": np.einsum("no,oi->ni", dout, weight),
        "weight": np.einsum("no,ni->oi", dout, x),
        "bias": dout.sum(axis=0),
    }
