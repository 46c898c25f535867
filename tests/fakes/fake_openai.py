"""A scripted OpenAI-compatible server on 127.0.0.1 (chat completions, embeddings, models).

Use it with ``OpenAI(base_url=fake.base_url, api_key="x", max_retries=0)`` or
``ChatOpenAI(base_url=fake.base_url, api_key="x")``. Each chat completion consumes the next
scripted response (``Text``, ``ToolCalls``, ``Error``, a plain ``str``, or a callable
``(request_json) -> response``); when the script is empty, the default answers.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"
MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")


@dataclass
class Text:
    """A final assistant text answer."""

    content: str
    finish_reason: str = "stop"


@dataclass
class ToolCalls:
    """An assistant turn calling tools: ``[(name, args dict or raw JSON string), ...]``."""

    calls: list[tuple[str, dict[str, Any] | str]]
    content: str | None = None
    ids: list[str] | None = None


@dataclass
class Error:
    """An HTTP error answer in OpenAI's error format."""

    status: int = 500
    message: str | None = None
    retry_after: float | None = None


Response = Text | ToolCalls | Error | str
Scripted = Response | Callable[[dict[str, Any]], Response]


@dataclass
class RecordedRequest:
    """One request to the fake; ``req["messages"]`` reads the JSON body."""

    path: str
    method: str
    json: dict[str, Any]
    headers: dict[str, str]
    time: float
    status: int = 0

    def __getitem__(self, key: str) -> Any:
        return self.json[key]

    def get(self, key: str, default: Any = None) -> Any:
        """``json.get``."""
        return self.json.get(key, default)


@dataclass
class _Fail:
    status: int
    times: int
    message: str | None
    path: str | None
    retry_after: float | None


@dataclass
class _Delay:
    seconds: float
    times: int | None
    per_chunk: float
    path: str | None = None


class _ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.retry_after = status, message, param, code, retry_after

    def body(self) -> dict[str, Any]:
        kind = {401: "invalid_request_error", 404: "invalid_request_error", 429: "requests"}.get(self.status)
        kind = kind or ("invalid_request_error" if self.status < 500 else "server_error")
        code = self.code or {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(self.status)
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": code}}


_DEFAULT_MESSAGES = {
    400: "Bad request",
    429: "Rate limit reached for requests",
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later",
}

_TOKEN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u9fff\uf900-\ufaff]+")
_TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def tokens(text: str) -> list[str]:
    """Lower-cased words; each CJK character is its own token."""
    return _TOKEN_RE.findall(text.lower())


def embed(text: str | list[int], dim: int = 64) -> list[float]:
    """Deterministic unit vector: signed hashed bag of words, rounded to float32."""
    toks = [str(t) for t in text] if isinstance(text, list) else tokens(text)
    vec = [0.0] * dim
    for tok in toks:
        h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
        vec[h % dim] += 1.0 if (h >> 63) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0:
        vec[0], norm = 1.0, 1.0
    return list(struct.unpack(f"<{dim}f", struct.pack(f"<{dim}f", *(v / norm for v in vec))))


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def last_user_text(request: dict[str, Any]) -> str:
    """Text of the last ``user`` message of a chat request."""
    for m in reversed(request.get("messages", [])):
        if m.get("role") == "user":
            return message_text(m)
    return ""


def tool_results(request: dict[str, Any]) -> list[tuple[str, str]]:
    """``(tool name, tool message content)`` for every tool message of a chat request."""
    names: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    for m in request.get("messages", []):
        for tc in m.get("tool_calls") or []:
            names[tc.get("id", "")] = tc.get("function", {}).get("name", "")
        if m.get("role") == "tool":
            out.append((names.get(m.get("tool_call_id", ""), ""), message_text(m)))
    return out


def _count(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


def _validate_chat(req: dict[str, Any]) -> None:
    if not req.get("model"):
        raise _ApiError(400, "you must provide a model parameter")
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _ApiError(400, "[] is too short - 'messages'", param="messages", code="empty_array")
    for i, tool in enumerate(req.get("tools") or []):
        name = (tool.get("function") or {}).get("name", "")
        if tool.get("type") == "function" and not _TOOL_NAME_RE.match(name):
            raise _ApiError(
                400,
                f"Invalid 'tools[{i}].function.name': string does not match pattern. "
                "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                param=f"tools[{i}].function.name",
                code="invalid_value",
            )
    current: set[str] = set()
    remaining: list[str] = []
    for i, m in enumerate(messages):
        role = m.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool", "function"):
            raise _ApiError(
                400,
                f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
                "'user', 'function', 'tool', and 'developer'.",
                param=f"messages[{i}].role",
                code="invalid_value",
            )
        if role == "tool":
            tcid = m.get("tool_call_id")
            if tcid not in current:
                raise _ApiError(
                    400,
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    param=f"messages.[{i}].role",
                )
            if tcid in remaining:
                remaining.remove(tcid)
            continue
        if remaining:
            raise _ApiError(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(remaining)}",
                param=f"messages.[{i}].role",
            )
        current, remaining = set(), []
        if role == "assistant" and m.get("tool_calls"):
            ids = [tc.get("id") for tc in m["tool_calls"]]
            current, remaining = set(ids), list(ids)
    if remaining:
        raise _ApiError(
            400,
            "An assistant message with 'tool_calls' must be followed by tool messages responding "
            "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
            f"{', '.join(remaining)}",
            param="messages",
        )


class FakeOpenAI:
    """Scripted OpenAI-compatible server; a context manager (``start()`` / ``stop()``)."""

    def __init__(self, *, dim: int = 64, api_key: str | None = None, strict_tools: bool = True) -> None:
        """``api_key``: if set, other keys get 401. ``strict_tools``: scripted tool calls must name a
        tool offered in the request (else 500 and an entry in ``errors``)."""
        self.dim = dim
        self.api_key = api_key
        self.strict_tools = strict_tools
        self.errors: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._script: list[Scripted] = []
        self._default: Scripted = lambda req: Text(f"fake answer to: {last_user_text(req)}")
        self._fails: list[_Fail] = []
        self._delays: list[_Delay] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeOpenAI:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(("127.0.0.1", 0), _make_handler(self))
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fake-openai", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (delayed requests are released) and close the socket."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start()``)."""
        assert self._server is not None, "FakeOpenAI not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ----------------------------------------------------------------- scripting
    def script(self, responses: list[Scripted]) -> None:
        """Replace the queue of chat answers (one consumed per chat completion request)."""
        with self._lock:
            self._script = list(responses)

    def then(self, *responses: Scripted) -> None:
        """Append answers to the queue."""
        with self._lock:
            self._script.extend(responses)

    def set_default(self, response: Scripted) -> None:
        """The answer used when the script is empty (initially an echo of the last user message)."""
        self._default = response

    @property
    def pending(self) -> int:
        """Scripted answers not consumed yet."""
        with self._lock:
            return len(self._script)

    def delay(
        self, seconds: float, *, times: int | None = None, per_chunk: float = 0.0, path: str | None = None
    ) -> None:
        """Sleep ``seconds`` before answering (next ``times`` requests, or all until ``delay(0)``);
        ``per_chunk`` also sleeps between streamed chunks. ``path`` limits it to one endpoint."""
        with self._lock:
            if seconds <= 0 and per_chunk <= 0:
                self._delays.clear()
            else:
                self._delays.append(_Delay(seconds, times, per_chunk, path))

    def fail(
        self,
        status: int = 500,
        times: int = 1,
        *,
        message: str | None = None,
        path: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` requests (optionally only on ``path``) with an HTTP error."""
        with self._lock:
            self._fails.append(_Fail(status, times, message, path, retry_after))

    def reset(self) -> None:
        """Forget requests, script, failures, delays and errors."""
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self._fails.clear()
            self._delays.clear()
            self.errors.clear()

    # ----------------------------------------------------------------- inspection
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[RecordedRequest]:
        """Requests to ``/v1/chat/completions``."""
        return [r for r in self.requests if r.path == CHAT_PATH]

    def embed(self, text: str, dim: int | None = None) -> list[float]:
        """The vector this server returns for ``text``."""
        return embed(text, dim or self.dim)

    # ----------------------------------------------------------------- internals
    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _take_delay(self, path: str) -> _Delay | None:
        with self._lock:
            for d in self._delays:
                if d.path in (None, path):
                    if d.times is not None:
                        d.times -= 1
                        if d.times <= 0:
                            self._delays.remove(d)
                    return d
        return None

    def _take_fail(self, path: str) -> _Fail | None:
        with self._lock:
            for f in self._fails:
                if f.path in (None, path):
                    f.times -= 1
                    if f.times <= 0:
                        self._fails.remove(f)
                    return f
        return None

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up when the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def _next_response(self, req: dict[str, Any]) -> Text | ToolCalls:
        with self._lock:
            item = self._script.pop(0) if self._script else self._default
        resp = item(req) if callable(item) else item
        if isinstance(resp, str):
            resp = Text(resp)
        if isinstance(resp, Error):
            raise _ApiError(
                resp.status, resp.message or _DEFAULT_MESSAGES.get(resp.status, "error"), retry_after=resp.retry_after
            )
        if isinstance(resp, ToolCalls) and self.strict_tools:
            offered = {(t.get("function") or {}).get("name") for t in req.get("tools") or []}
            missing = [name for name, _ in resp.calls if name not in offered]
            if missing:
                msg = f"fake_openai: scripted tool(s) {missing} not offered in request tools {sorted(offered)}"
                self.errors.append(msg)
                raise _ApiError(500, msg)
        return resp

    def _tool_calls(self, resp: ToolCalls) -> list[dict[str, Any]]:
        ids = resp.ids or [f"call_fake{next(self._ids):06d}" for _ in resp.calls]
        return [
            {
                "id": ids[i],
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for i, (name, args) in enumerate(resp.calls)
        ]

    def chat(self, req: dict[str, Any]) -> tuple[dict[str, Any] | None, Iterator[dict[str, Any]] | None]:
        """Answer a chat completion: ``(json, None)`` or ``(None, chunk iterator)`` when streaming."""
        _validate_chat(req)
        resp = self._next_response(req)
        model = req["model"]
        cid = f"chatcmpl-fake{next(self._ids):06d}"
        created = int(time.time())
        prompt = sum(_count(message_text(m)) for m in req["messages"]) + 3 * len(req["messages"])
        if isinstance(resp, ToolCalls):
            calls, content, finish = self._tool_calls(resp), resp.content, "tool_calls"
            completion = sum(_count(c["function"]["arguments"]) + 3 for c in calls) + _count(content or "")
        else:
            calls, content, finish = [], resp.content, resp.finish_reason
            completion = _count(content)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        base = {
            "id": cid,
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
        }
        if not req.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
            if calls:
                message["tool_calls"] = calls
            return {
                **base,
                "object": "chat.completion",
                "usage": usage,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            }, None
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        return None, self._chunks(base, content, calls, finish, usage if include_usage else None)

    @staticmethod
    def _chunks(
        base: dict[str, Any],
        content: str | None,
        calls: list[dict[str, Any]],
        finish: str,
        usage: dict[str, Any] | None,
    ) -> Iterator[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            out = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if usage is not None:
                out["usage"] = None
            return out

        yield chunk({"role": "assistant", "content": "" if content is not None or not calls else None, "refusal": None})
        for piece in re.findall(r"\s*\S+", content or "") or []:
            yield chunk({"content": piece})
        for i, call in enumerate(calls):
            fn = call["function"]
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ]
                }
            )
            args = fn["arguments"]
            step = max(1, math.ceil(len(args) / 3))
            for start in range(0, len(args), step):
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args[start : start + step]}}]})
        yield chunk({}, finish)
        if usage is not None:
            yield {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}

    def embeddings(self, req: dict[str, Any]) -> dict[str, Any]:
        """Answer an embeddings request (floats, or base64 little-endian float32)."""
        if not req.get("model"):
            raise _ApiError(400, "you must provide a model parameter")
        inputs = req.get("input")
        if isinstance(inputs, str) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or any(x in ("", []) for x in inputs):
            raise _ApiError(
                400,
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param="input",
            )
        dim = int(req.get("dimensions") or self.dim)
        fmt = req.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise _ApiError(
                400,
                f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.",
                param="encoding_format",
                code="invalid_value",
            )
        data = []
        n_tokens = 0
        for i, item in enumerate(inputs):
            vec = embed(item, dim)
            n_tokens += len(item) if isinstance(item, list) else len(tokens(item))
            value: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode() if fmt == "base64" else vec
            data.append({"object": "embedding", "index": i, "embedding": value})
        return {
            "object": "list",
            "data": data,
            "model": req["model"],
            "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens},
        }


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent senders on loopback

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client hang-ups
        pass


def _make_handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", f"req_fake{time.monotonic_ns()}")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, chunks: Iterator[dict[str, Any]], per_chunk: float) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = (f"data: {json.dumps(c)}\n\n" for c in chunks)
            for event in itertools.chain(events, ["data: [DONE]\n\n"]):
                data = event.encode()
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                fake.sleep(per_chunk)
            self.wfile.write(b"0\r\n\r\n")

        def _serve(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = RecordedRequest(path, self.command, {}, headers, time.time())
            fake._record(record)
            status = 200
            try:
                try:
                    if raw:
                        record.json = json.loads(raw)
                except ValueError:
                    raise _ApiError(400, "We could not parse the JSON body of your request.") from None
                auth = headers.get("authorization", "")
                if not auth.lower().startswith("bearer ") or not auth[7:].strip():
                    raise _ApiError(401, "You didn't provide an API key.")
                if fake.api_key is not None and auth[7:].strip() != fake.api_key:
                    raise _ApiError(401, "Incorrect API key provided.")
                delay = fake._take_delay(path)
                fake.sleep(delay.seconds if delay else 0)
                failure = fake._take_fail(path)
                if failure is not None:
                    msg = failure.message or _DEFAULT_MESSAGES.get(failure.status, "error")
                    raise _ApiError(failure.status, msg, retry_after=failure.retry_after)
                if self.command == "POST" and path == CHAT_PATH:
                    body, chunks = fake.chat(record.json)
                    if chunks is not None:
                        record.status = 200
                        self._stream(chunks, delay.per_chunk if delay else 0.0)
                        return
                    assert body is not None
                    self._send_json(200, body)
                elif self.command == "POST" and path == EMBEDDINGS_PATH:
                    self._send_json(200, fake.embeddings(record.json))
                elif self.command == "GET" and path == "/v1/models":
                    self._send_json(200, {"object": "list", "data": [_model(m) for m in MODELS]})
                elif self.command == "GET" and path.startswith("/v1/models/"):
                    self._send_json(200, _model(path.rsplit("/", 1)[1]))
                else:
                    raise _ApiError(404, f"Invalid URL ({self.command} {path})")
            except _ApiError as err:
                status = err.status
                extra = {"retry-after": f"{err.retry_after:g}"} if err.retry_after is not None else {}
                self._send_json(err.status, err.body(), extra)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            record.status = record.status or status

        do_GET = _serve
        do_POST = _serve

    return _Handler
