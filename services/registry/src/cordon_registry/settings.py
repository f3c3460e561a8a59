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
    # What the registry accepts, in one place (docs/registry.md, "What is accepted").
    # A medium/high-risk listing is lifted after weeks without a new case; half a year is
    # longer than any listing the source documents describe, and a longer one is a typo
    # (9999) or a listing nobody reviews: the district lists the area again instead.
    registry_risk_area_max_days: int = Field(
        default=180, ge=1, description="How many days a risk-area listing may cover."
    )
    # A community's spreadsheet: 16,403 households (the largest in the source documents)
    # are about 3 MB of CSV and less as XLSX.
    registry_max_import_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest spreadsheet one import takes."
    )
    # A vaccination spreadsheet: the largest community in the source documents (13,000
    # residents) with three doses each is 39,000 rows; past the bound the file is refused
    # before any row is decided, and an office splits it.
    registry_max_vaccination_rows: int = Field(
        default=50_000, ge=1, description="Most dose rows one vaccination import takes."
    )
