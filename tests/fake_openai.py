"""A fake OpenAI-compatible HTTP server, in the test process, that honours only what it is told to.

Its "model" is the project's toy model (the judge's verdicts by word overlap), except for the capability probe's
prompt, which it answers as a compliant model would ({"fruit": "apple"}) unless a constraint it honours forces
otherwise. Behaviours:
- honours: the ways of asking for JSON it enforces ("grammar", "json_schema", "json_object+schema", ...);
- rejects: the ones it answers with HTTP 500 (llama-cpp-python's server does this for json_schema);
- words: it writes verdicts as words ("Yes", "No", "Partly") instead of letters;
- logprobs: it returns per-token logprobs, with `alternatives` as the top alternatives of each verdict letter.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from interviewer.llm.toy import toy_reply

WORDS = {"y": "Yes", "n": "No", "p": "Partly", "x": "Wrong"}


class Behaviour:
    def __init__(self, honours=(), rejects=(), words=False, logprobs=False, alternatives=None) -> None:
        self.honours, self.rejects, self.words, self.logprobs = set(honours), set(rejects), words, logprobs
        self.alternatives = alternatives or {"y": -0.4, "p": -1.6, "n": -2.0, "x": -3.5}
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []  # each request's Authorization header


def _mode(body: dict) -> str | None:
    extra = {k for k in ("grammar", "guided_json", "format") if k in body}
    if extra:
        return extra.pop()
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        return "json_schema"
    if rf.get("type") == "json_object":
        return "json_object+schema" if "schema" in rf else "json_object"
    return None


def _reply(b: Behaviour, body: dict) -> str:
    messages = body["messages"]
    mode = _mode(body)
    enforced = mode in b.honours
    text = json.dumps(messages)
    if "colour" in json.dumps(body.get("response_format") or body.get("grammar") or body.get("guided_json")
                              or body.get("format") or "") and enforced:
        return '{"colour": "teal"}'
    if '{\\"fruit\\": \\"apple\\"}' in text:
        return '{"fruit": "apple"}'
    reply = toy_reply(messages, "grade" if "KEY POINTS" in text else None)
    if b.words and not enforced:
        reply = re.sub(r'"(\d+)": "([ypnx])"', lambda m: f'"{m.group(1)}": "{WORDS[m.group(2)]}"', reply)
    return reply


def _logprobs(b: Behaviour, text: str) -> dict:
    """One token per character; verdict letters get the behaviour's alternatives."""
    content = []
    for i, ch in enumerate(text):
        after_key = re.search(r'"\d+":\s*"$', text[:i])
        if after_key and ch in b.alternatives:
            top = [{"token": c, "logprob": lp, "bytes": None} for c, lp in b.alternatives.items()]
            content.append({"token": ch, "logprob": b.alternatives[ch], "bytes": None, "top_logprobs": top})
        else:
            content.append({"token": ch, "logprob": 0.0, "bytes": None, "top_logprobs": [
                {"token": ch, "logprob": 0.0, "bytes": None}]})
    return {"content": content, "refusal": None}


class _Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour

    def log_message(self, *args) -> None:  # quiet
        pass

    def _json(self, code: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        b = self.behaviour
        b.requests.append(body)
        b.authorizations.append(self.headers.get("Authorization"))
        if _mode(body) in b.rejects:
            self._json(500, {"error": {"message": "Internal Server Error", "type": "server_error"}})
            return
        text = _reply(b, body)
        lp = _logprobs(b, text) if b.logprobs and body.get("logprobs") else None
        base = {"id": "x", "created": int(time.time()), "model": body.get("model", "m")}
        if not body.get("stream"):
            self._json(200, {**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop",
                 "logprobs": lp}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in re.findall(r"\S+\s*", text) or [""]:
            chunk = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        done = {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())


class FakeServer:
    def __init__(self, behaviour: Behaviour) -> None:
        handler = type("Handler", (_Handler,), {"behaviour": behaviour})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.behaviour = behaviour
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
