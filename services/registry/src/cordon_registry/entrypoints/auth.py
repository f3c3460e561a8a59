"""Who is calling (a bearer token) and how refusals become HTTP answers naming the field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cordon_core.api_errors import errors
from cordon_core.http import correlation_id
from cordon_registry.domain.errors import (
    AccessDenied,
    Conflict,
    InvalidInput,
    NotFound,
    RegistryError,
)
from cordon_registry.service.staff import authenticate
from cordon_registry.service.unit import Caller, Registry

STATUS = {InvalidInput: 422, NotFound: 404, Conflict: 409, AccessDenied: 403}
REFUSALS = errors(403, 404)
"""What every use case may answer: not for this caller's role or community, or unknown."""
WRITE_REFUSALS = errors(409)
"""What a change may answer besides: it conflicts with what is recorded."""
bearer = HTTPBearer(auto_error=False, description="A staff token, or the bootstrap admin token.")


def caller_of(reg: Registry) -> Callable[..., Awaitable[Caller]]:
    async def caller(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        member = await authenticate(reg, credentials.credentials) if credentials else None
        if member is None:
            raise HTTPException(
                401, "a valid staff token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return Caller(member, correlation_id(request))

    return caller


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RegistryError)
    async def refused(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RegistryError)
        status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
        body = {"loc": ["body", error.field], "msg": error.reason, "type": type(error).__name__}
        return JSONResponse({"detail": [body]}, status_code=status)
