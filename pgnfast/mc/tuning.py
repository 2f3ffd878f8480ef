"""Step-size tuning toward a target acceptance, used during equilibration only."""

from __future__ import annotations

import numpy as np


class StepSizeTuner:
    """Multiplicative tuning of per-temperature step sizes (nm) from one sweep's acceptance.

    s <- s * exp(gain * (acceptance - target)), clipped to [min_step, max_step] nm.
    """

    def __init__(
        self,
        target: float = 0.4,
        gain: float = 1.0,
        min_step: float = 1e-6,
        max_step: float = np.inf,
    ):
        self.target, self.gain, self.min_step, self.max_step = target, gain, min_step, max_step

    def update(
        self, step_sizes: np.ndarray, attempted: np.ndarray, accepted: np.ndarray
    ) -> np.ndarray:
        """New (K,) step sizes from (K,) attempted and accepted move counts."""
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(attempted > 0, accepted / np.maximum(attempted, 1), self.target)
        new = step_sizes * np.exp(self.gain * (rate - self.target))
        return np.clip(new, self.min_step, self.max_step)
