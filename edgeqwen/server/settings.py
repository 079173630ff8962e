"""What a server allows: its limits, its API key, and which web pages may call it (CORS)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from ..errors import InvalidRequestError
from ..types import check_api_key, listed

__all__ = ["Cors", "ServerSettings"]

# what an Origin header holds: scheme://host[:port] (an app's own scheme too: app://, file://), or null
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]*|null")
# a web app on this machine (a dev server on any port) may call the API from a browser; a page of
# any other site may not unless named, so a site the user visits cannot use the model through it
_LOCAL_PAGES = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?")


@dataclass(frozen=True)
class ServerSettings:
    """Limits and access. ``max_tokens``: the most tokens an answer may have (a request asking for
    more, or not saying, gets this many); ``max_queue``: requests that may wait while one is generated (more get 429);
    ``body_timeout_s``: a request body not whole by then gets 408 (uvicorn itself waits forever,
    so a client that sends half a body would hold its connection for good); ``cors_origins``: the
    web pages (origins, ``*`` for any) a browser may let call the API, besides pages served from
    this machine (``http://localhost:PORT`` ...), which always may; ``max_stored_responses``: the
    newest responses kept in memory for ``previous_response_id``, and the newest conversations (0:
    none); ``keepalive_s``: the
    seconds of silence in a streamed answer after which a keep-alive goes out (0: none)."""

    api_key: str | None = None
    max_request_bytes: int = 1 << 20
    max_tokens: int = 2048
    max_queue: int = 64
    body_timeout_s: float = 30.0
    cors_origins: tuple[str, ...] = ()
    max_stored_responses: int = 256
    keepalive_s: float = 15.0

    def allows(self, origin: str) -> bool:
        """Whether a web page of ``origin`` may use the API: the one rule for the CORS answers
        (:class:`Cors`) and for the 403 before the model runs."""
        return "*" in self.cors_origins or origin in self.cors_origins or _LOCAL_PAGES.fullmatch(origin) is not None

    def __post_init__(self) -> None:
        # each checked for its kind too: a "4" or None compared with a number was a TypeError
        for name, least in (("max_request_bytes", 1), ("max_tokens", 1), ("max_queue", 0), ("max_stored_responses", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidRequestError(f"{name} must be a whole number >= {least}, got {value!r:.40}.", name)
        for name, least, strict in (("keepalive_s", 0, False), ("body_timeout_s", 0, True)):
            value = getattr(self, name)
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not number or value < least or (strict and value == least):
                said = ">" if strict else ">="
                raise InvalidRequestError(
                    f"{name} must be a number of seconds {said} {least}, got {value!r:.40}.", name
                )
        # one origin given as a string is that origin (its letters are no origins)
        object.__setattr__(self, "cors_origins", listed(self.cors_origins, "cors_origins", "origins"))
        for origin in self.cors_origins:
            if origin != "*" and not (isinstance(origin, str) and _ORIGIN.fullmatch(origin)):
                raise InvalidRequestError(
                    f"cors origin {origin!r} is not an origin: give scheme, host and port if any, as a browser sends "
                    "it (https://app.example.com, http://192.168.1.5:3000, app://my-app, null), or * for any page."
                )
        if self.api_key is not None:
            check_api_key(self.api_key)


class Cors(CORSMiddleware):
    """Starlette's CORS answers, with :meth:`ServerSettings.allows` deciding which pages may ask."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        # allow_origins only for "*": then the answers say "*" rather than echo each page's origin
        origins = list(settings.cors_origins)
        super().__init__(
            app, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"], allow_headers=["*"], max_age=600
        )
        self.settings = settings

    def is_allowed_origin(self, origin: str) -> bool:
        return self.settings.allows(origin)
