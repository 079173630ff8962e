"""What clients read of the served models before they ask for anything: OpenAI's ``GET /v1/models``
(Anthropic's client reads the same list) and ``GET /v1/models/ID``; TabbyAPI's ``GET
/v1/model/list`` and ``GET /v1/model``; text-generation-webui's ``GET /v1/internal/model/info``.

SillyTavern's TabbyAPI connection checks ``/v1/model/list`` and does not connect without it (it
was a 404: "API connection failed"), then reads the loaded model's id from ``/v1/model``; its
text-generation-webui connection counts tokens with that server's ``/v1/internal/encode``
(:mod:`.tokenize`) only where ``/v1/internal/model/info`` answers, and estimates otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .http import HTTPError, authorize
from .ollama import iso_time

if TYPE_CHECKING:
    from .app import _App

__all__ = ["model_entry", "model_routes"]


def model_entry(app: _App, name: str) -> dict[str, Any]:
    """A model as OpenAI's and Anthropic's ``/v1/models`` write it, in one object. The chat
    model's limits too: Anthropic's ``max_input_tokens`` and ``max_tokens`` (Claude Code's
    gateway model discovery reads them to compact a conversation before it overflows; it
    assumed 200k tokens) and vLLM's ``max_model_len``."""
    entry = {"id": name, "object": "model", "created": app.created, "owned_by": "edgeqwen"}
    entry.update(type="model", display_name=name, created_at=iso_time(app.created))
    if name == app.model_id:
        longest, context = app.longest_prompt(), app.bot_backend.context_length
        entry.update(max_input_tokens=longest, max_tokens=app.settings.max_tokens, max_model_len=context)
    return entry


def model_routes(app: _App) -> list[Route]:
    def read(answer: Any) -> Any:
        """A GET that needs the API key and reads what is served."""

        async def route(request: Request) -> Response:
            try:
                authorize(request, app.settings)
                return JSONResponse(answer(request))
            except HTTPError as exc:
                return exc.response()

        return route

    def models(request: Request) -> dict[str, Any]:
        data = [model_entry(app, name) for name in app.listed()]
        # Anthropic's list reads the same entries, and pages with these
        return {"object": "list", "data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}

    def model(request: Request) -> dict[str, Any]:
        """OpenAI's ``models.retrieve``: the served model by its id; any other id is 404."""
        asked = request.path_params["model"]
        if asked not in app.listed():
            served = " and ".join(repr(name) for name in app.listed())
            raise HTTPError(
                404,
                f"The model {asked!r} is not served here; this server serves {served}.",
                "invalid_request_error",
                "model",
                "model_not_found",
            )
        return model_entry(app, asked)

    def tabby_card(request: Request) -> dict[str, Any]:
        """TabbyAPI's card of the loaded model: its id, and the window as ``max_seq_len``."""
        card = {"id": app.model_id, "object": "model", "created": app.created, "owned_by": "edgeqwen"}
        return card | {"parameters": {"max_seq_len": app.bot_backend.context_length}}

    def tabby_list(request: Request) -> dict[str, Any]:
        return {"object": "list", "data": [tabby_card(request)]}

    def webui_info(request: Request) -> dict[str, Any]:
        return {"model_name": app.model_id, "lora_names": []}

    return [
        Route("/v1/models", read(models), methods=["GET"]),
        Route("/v1/models/{model:path}", read(model), methods=["GET"]),
        Route("/v1/model/list", read(tabby_list), methods=["GET"]),
        Route("/v1/model", read(tabby_card), methods=["GET"]),
        Route("/v1/internal/model/info", read(webui_info), methods=["GET"]),
    ]
