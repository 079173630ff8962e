"""Running the app: in the foreground with uvicorn (``edgeqwen serve``) or on a thread."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import EdgeQwenError, InvalidRequestError
from .app import create_app
from .settings import ServerSettings

if TYPE_CHECKING:
    from ..embeddings import Embedder
    from ..rerank import Reranker

__all__ = ["BackgroundServer", "check_port", "is_loopback", "notices", "serve"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """Fail early, with the fix, when ``host:port`` cannot be bound (in use, or not this machine's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise InvalidRequestError(
                f"Cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port, or --host "
                "127.0.0.1 for this machine only."
            ) from exc


def _config(
    assistant: Any,
    host: str,
    port: int,
    settings: ServerSettings | None,
    log_level: str,
    embedder: Embedder | None = None,
    reranker: Reranker | None = None,
):
    import uvicorn

    app = create_app(assistant, settings, embedder=embedder, reranker=reranker)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="off")
    return app, config


def serve(
    assistant: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    settings: ServerSettings | None = None,
    announce: Callable[[str], None] | None = None,
    log_level: str = "warning",
    embedder: Embedder | None = None,
    reranker: Reranker | None = None,
) -> None:
    """Serve ``assistant`` (an :class:`~edgeqwen.Assistant`) until interrupted (Ctrl-C), ``embedder``
    (an :class:`~edgeqwen.Embedder`) at ``/v1/embeddings`` and ``reranker`` (a
    :class:`~edgeqwen.Reranker`) at ``/v1/rerank`` when given."""

    from ..probe.limits import in_container

    app, config = _config(assistant, host, port, settings, log_level, embedder, reranker)
    state = app.state.edgeqwen
    if announce:
        for line in notices(host, port, state.settings, in_container()):
            announce(line)
        also = f", embeddings with {embedder.name}" if embedder is not None else ""
        also += f", reranking with {reranker.name}" if reranker is not None else ""
        announce(
            f"Serving {state.model_id}{also} at http://{host}:{port}/v1 (OpenAI's API; Ollama's, Anthropic's, "
            f"llama-server's, KoboldCpp's and Hugging Face's TGI and TEI at http://{host}:{port}, their clients' "
            "base URL). "
            "Ctrl-C stops."
        )
    _server(config, app).run()


def _server(config: Any, app: Any) -> Any:
    """uvicorn's server, which on SIGTERM or Ctrl-C also stops the answers under way: it waits for
    every open request to end, and an answer streamed on a Pi can run for minutes past the 10 s
    ``docker stop`` gives (a 6,000-token answer of the demo model kept it 47 s)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            app.state.edgeqwen.shut_down()

    return Server(config)


def notices(host: str, port: int, settings: ServerSettings, container: bool) -> list[str]:
    """What to say before serving: an open port with no key, or a loopback address inside a
    container, which nothing outside the container can reach."""
    out = []
    if not is_loopback(host) and settings.api_key is None:
        out.append(f"Warning: listening on {host} with no API key: anyone who can reach this port can use the model.")
    if is_loopback(host) and container:
        out.append(
            f"Note: this is a container, and {host} is reachable only from inside it. To serve the host, "
            f"publish the port (docker run -p {port}:{port}) and add --host 0.0.0.0 --api-key KEY."
        )
    return out


class BackgroundServer:
    """The server on a daemon thread, on a free loopback port unless ``port`` is given.

    >>> with BackgroundServer(bot) as server:       # doctest: +SKIP
    ...     OpenAI(base_url=server.base_url, api_key="none")
    """

    def __init__(
        self,
        assistant: Any,
        settings: ServerSettings | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
    ) -> None:

        if port == 0:
            with socket.socket() as sock:
                sock.bind((host, 0))
                port = sock.getsockname()[1]
        self.host, self.port = host, port
        self.app, config = _config(assistant, host, port, settings, log_level, embedder, reranker)
        self._server = _server(config, self.app)
        self._thread = threading.Thread(target=self._server.run, name="edgeqwen-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise EdgeQwenError(f"The server did not start on {self.url} (is the port free?).")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self.app.state.edgeqwen.shut_down()
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
