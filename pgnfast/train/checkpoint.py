"""Atomic checkpoints (temporary file + os.replace: a crash never leaves a half file) and EMA."""

from __future__ import annotations

import torch

from .._atomic import atomic_path


def save_atomic(obj, path) -> None:
    """torch.save to path via a temporary file in the same folder and an atomic rename."""
    with atomic_path(path) as temporary:
        torch.save(obj, temporary)


class ExponentialMovingAverage:
    """EMA of a module's floating parameters: shadow = decay * shadow + (1 - decay) * param,
    with the warm-up decay min(decay, (1 + n) / (10 + n)) after n updates."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.decay = float(decay)
        self.updates = 0
        self.shadow = {name: p.detach().clone() for name, p in module.named_parameters()}

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, p in module.named_parameters():
            self.shadow[name].mul_(decay).add_(p.detach(), alpha=1 - decay)

    @torch.no_grad()
    def swap(self, module: torch.nn.Module) -> None:
        """Exchange the module's parameters with the averages (call twice to undo)."""
        for name, p in module.named_parameters():
            current = p.detach().clone()
            p.copy_(self.shadow[name])
            self.shadow[name] = current

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = state["decay"], state["updates"]
        self.shadow = {k: v.clone() for k, v in state["shadow"].items()}
