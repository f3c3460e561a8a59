"""The registry's settings: the shared ones plus its secrets and import batch size."""

from __future__ import annotations

from pydantic import Field, SecretStr

from cordon_core.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    """``CORDON_REGISTRY_*`` variables. The secret defaults are for a laptop only."""

    registry_admin_token: SecretStr = Field(
        default=SecretStr("cordon-registry-admin-dev"),
        description="Bootstrap admin token: issues staff tokens. Set a long random one.",
    )
    registry_master_key: SecretStr = Field(
        default=SecretStr("cordon-dev-master-key"),
        description="Wraps the per-person data keys (crypto-shredding).",
    )
    registry_index_key: SecretStr = Field(
        default=SecretStr("cordon-dev-index-key"),
        description="The district key for keyed hashes of documents, names and phones.",
    )
    registry_import_batch_size: int = Field(
        default=500, ge=1, description="Residents written per import transaction."
    )
