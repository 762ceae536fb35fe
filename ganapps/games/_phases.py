"""Games trained in named phases switched by assignment: ``game.phase = "adversarial"``, then ``fit`` again.

Keras traces ``train_step`` once into ``train_function`` and keeps its metrics' running means between ``fit``
calls, so a phase switch must drop the traced step (else the next ``fit`` runs the old phase) and reset the
metrics (else it reports means mixed across phases, some of metrics the new phase no longer updates).
"""

from __future__ import annotations

from typing import Any

from ganapps import _checks


class Phased:
    """Mixin for a game (a ``keras.Model``) whose step and metrics depend on ``self._phase``.

    A subclass lists its phases in ``PHASES``, sets ``self._phase = self._check_phase(phase)`` in ``__init__`` (not
    ``self.phase``: its metrics do not exist yet to be reset) and saves ``"phase"`` in ``get_config``, so that a
    ``.keras`` reload comes back in the phase it was saved in.
    """

    PHASES: tuple[str, ...] = ()

    @property
    def phase(self) -> str:
        """The current phase, one of ``PHASES``; assigning another makes the next ``fit`` retrace its step."""
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        value = self._check_phase(value)
        if value != getattr(self, "_phase", None):
            self._phase = value
            self.train_function = None
            self.reset_metrics()

    @classmethod
    def _check_phase(cls, phase: Any) -> str:
        if phase not in cls.PHASES:
            raise _checks.fail("phase", f"one of {cls.PHASES}", repr(phase))
        return phase
