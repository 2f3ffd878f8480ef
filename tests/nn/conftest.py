import pytest
import torch

from pgnfast.testing import small_model


@pytest.fixture
def model64():
    return small_model(torch.float64)
