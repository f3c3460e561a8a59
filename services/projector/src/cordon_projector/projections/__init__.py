"""The projector's projections: each builds read-model rows from the events of the services
it names in ``reads_from``, and can be emptied and rebuilt from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cordon_core.projection import Projection


class SourcedProjection(Projection, Protocol):
    """A projection that says whose events it reads."""

    @property
    def reads_from(self) -> Sequence[str]:
        """The services whose events topics it reads."""
        ...
