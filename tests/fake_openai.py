"""A fake OpenAI-compatible chat-completions server that misbehaves on schedule.

`FakeOpenAI(script)` serves /v1/chat/completions on a free local port.  Each request takes the
next entry of `script` (the last one repeats):
    "ok"              a valid answer: a tool call when tools are offered, else JSON text
    "429:S"           HTTP 429 with Retry-After: S
    "500"             HTTP 500 with an error body
    "refuse_schema"   HTTP 500 "Input should be 'text' or 'json_object'" when response_format is
                      json_schema (what llama-cpp-python's server answers), else a valid answer
    "slow:S"          sleeps S seconds before answering (a client timeout shorter than S fires)
    "garbage"         200 with a body that is not JSON
    "truncated"       200 whose content is half a JSON object, finish_reason "length"
    "empty"           200 with empty content
    "echo_key"        HTTP 400 whose message repeats the request's Authorization header
Every request body is kept in `requests`, with its headers in `headers`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self, script: list[str], answer: dict | None = None):
        self.script, self.answer = list(script), answer or {"value": 42}
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def next(self, body: dict, headers: dict) -> str:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self.script[min(len(self.requests) - 1, len(self.script) - 1)]

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        action = self.fake.next(body, dict(self.headers))
        kind, _, arg = action.partition(":")
        if kind == "429":
            return self._send(429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}},
                              {"Retry-After": arg or "1"})
        if kind == "500":
            return self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
        if kind == "refuse_schema" and (body.get("response_format") or {}).get("type") == "json_schema":
            return self._send(500, {"error": {"message": "1 validation error: response_format.type Input should be "
                                                         "'text' or 'json_object'", "type": "server_error"}})
        if kind == "echo_key":
            return self._send(400, {"error": {"message": f"bad request from {self.headers.get('authorization')}",
                                              "type": "invalid_request_error"}})
        if kind == "slow":
            time.sleep(float(arg))
        if kind == "garbage":
            return self._raw(200, b"<html>proxy error</html>")
        text = json.dumps(self.fake.answer)
        finish = "stop"
        if kind == "truncated":
            text, finish = text[: len(text) // 2], "length"
        if kind == "empty":
            text = ""
        message = {"role": "assistant", "content": text}
        if body.get("tools") and kind not in ("truncated", "empty"):
            name = body["tools"][0]["function"]["name"]
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function", "function": {"name": name, "arguments": text}}]}
        self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                         "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), headers)

    def _raw(self, status: int, data: bytes, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    def log_message(self, *args):
        pass
