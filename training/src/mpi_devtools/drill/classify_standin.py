"""The drill's classifier server: `POST /classify` in the shape vLLM answers it (stack.md §2.3),
on a loopback port the drill can take down and bring back, to drill a classifier outage.

It stands in for vLLM, not for a model: every prompt gets `no_match` with P(match) = 0.05, so a
drilled gray pair ends as no match. The drill judges that each adjudication is decided exactly
once through the outage, not what it decides; the calls it served and refused are counted.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MATCH_PROBABILITY = 0.05


class ClassifyStandIn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.served = 0
        self.served_before_start = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def served_since_start(self) -> int:
        """Pairs classified since the port last opened (after an outage: the retries)."""
        return self.served - self.served_before_start

    def start(self) -> None:
        stand_in = self
        self.served_before_start = self.served

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    prompts = json.loads(self.rfile.read(length))["input"]
                    body = _answer(prompts if isinstance(prompts, list) else [prompts])
                except (ValueError, KeyError, TypeError):
                    self.send_error(400)
                    return
                with stand_in._lock:
                    stand_in.served += len(body["data"])
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: prompts carry clinical histories, and the drill scans for PHI."""

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the port: the worker's calls are refused until `start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None


def _answer(prompts: list[Any]) -> dict[str, Any]:
    return {
        "object": "list",
        "model": "drill",
        "data": [
            {
                "index": index,
                "label": "no_match",
                "probs": [1 - MATCH_PROBABILITY, MATCH_PROBABILITY],
                "num_classes": 2,
            }
            for index, _ in enumerate(prompts)
        ],
    }
