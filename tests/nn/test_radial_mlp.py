"""The radial MLP with folded normalisation equals e3nn's FullyConnectedNet, parameters and
all, so models keep their state dicts and function."""

import pytest
import torch
from e3nn import nn as e3nn_nn

from pgnfast.nn.layers import RadialMLP


@pytest.mark.parametrize("sizes", [[8, 128, 96], [6, 32, 32, 40], [8, 17]])
def test_radial_mlp_equals_e3nn_fully_connected_net(sizes):
    seed = int(torch.randint(0, 2**30, ()))
    torch.manual_seed(seed)
    reference = e3nn_nn.FullyConnectedNet(sizes, torch.nn.functional.silu).double()
    mine = RadialMLP(sizes).double()
    assert list(mine.state_dict()) == list(reference.state_dict())
    mine.load_state_dict(reference.state_dict())
    x = torch.randn(257, sizes[0], dtype=torch.float64, requires_grad=True)
    out_ref, out = reference(x), mine(x)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12, msg=f"seed {seed}")
    grad_ref = torch.autograd.grad(out_ref.square().sum(), x)[0]
    grad = torch.autograd.grad(out.square().sum(), x)[0]
    torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-12, msg=f"seed {seed}")
