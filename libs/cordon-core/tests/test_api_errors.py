"""The standard answers every operation's OpenAPI entry gets (cordon_core.api_errors).

(No ``from __future__ import annotations``: FastAPI must resolve the local ``Token`` type.)
"""

from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from cordon_core.api_errors import document_errors, errors
from cordon_core.schema_rules import STORABLE_TEXT

bearer = HTTPBearer(auto_error=False)
Token = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class Body(BaseModel):
    name: str


def app_with_routes() -> FastAPI:
    app = FastAPI()
    document_errors(app)

    @app.get("/open")
    async def open_() -> dict[str, str]:
        return {}

    @app.post("/things/{thing_id}", responses=errors(404, 409))
    async def secured(thing_id: str, body: Body, token: Token) -> dict[str, str]:
        return {}

    @app.get("/things/{thing_id}")
    async def read(thing_id: str) -> dict[str, str]:
        return {}

    return app


def answers(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = app.openapi()["paths"][path][method]["responses"]
    return responses


def test_every_operation_documents_503_and_only_the_answers_its_inputs_allow() -> None:
    app = app_with_routes()
    assert set(answers(app, "get", "/open")) == {"200", "503"}
    assert set(answers(app, "post", "/things/{thing_id}")) == {
        "200", "400", "401", "404", "409", "413", "422", "503"
    }  # fmt: skip


def test_every_error_answer_names_the_one_shared_error_body() -> None:
    app = app_with_routes()
    document = app.openapi()
    for code, answer in answers(app, "post", "/things/{thing_id}").items():
        if code != "200":
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, code
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "Retry-After" in answers(app, "get", "/open")["503"]["headers"]


async def test_a_method_the_path_lacks_is_answered_with_every_method_it_has() -> None:
    transport = httpx.ASGITransport(app=app_with_routes())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused = await client.delete("/things/t-1")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, POST"


def test_the_request_side_says_that_no_text_may_hold_nul_or_a_lone_surrogate() -> None:
    document = app_with_routes().openapi()
    operation = document["paths"]["/things/{thing_id}"]["post"]
    body = document["components"]["schemas"]["Body"]
    assert operation["parameters"][0]["schema"]["pattern"] == STORABLE_TEXT
    assert body["properties"]["name"]["pattern"] == STORABLE_TEXT
    # Unknown fields are ignored, but only when they too are storable.
    assert body["propertyNames"] == {"pattern": STORABLE_TEXT}
    assert body["additionalProperties"] == {"$ref": "#/components/schemas/StorableJSON"}
