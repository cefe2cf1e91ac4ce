#!/usr/bin/env python3
"""Black-box checks of a running `edgereason serve` with real clients (docs/openapi.yaml).

The official `openai` Python package (chat, streaming, n paths and their vote, the thinking
fields, models, completions), raw HTTP for what a typed client cannot send (malformed JSON,
out-of-range values, an oversized body, a client that goes away mid-stream, a full queue), and
curl. Prints one line per check; exits 1 when any fails, 2 on bad usage.

    tests/server/test_server_clients.py --base-url http://127.0.0.1:8080 --model-name smollm2
    ... --only auth --api-key KEY              # the server runs with --api-key KEY
    ... --only sigterm --server-pid PID        # SIGTERMs the server during a request (last)

--parallel, --queue, --max-n, --ctx and --max-body-bytes must be the values the server was
started with (scripts/test-server.sh passes them). Needs `openai`; curl for the curl group.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

PREFIX = "test-server-clients:"
GROUPS = [
    "models",
    "chat",
    "stream",
    "paths",
    "thinking",
    "completions",
    "concurrent",
    "errors",
    "metrics",
    "curl",
    "disconnect",
    "overload",
    "bytes",
    "auth",
    "sigterm",
]
# Run when --only is not given; auth needs a server with a key, sigterm ends the server.
DEFAULT_GROUPS = [g for g in GROUPS if g not in ("auth", "sigterm")]

ANY = object()


class CheckFailed(Exception):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def short(x, n: int = 400) -> str:
    s = x if isinstance(x, str) else (x.decode("utf-8", "replace") if isinstance(x, bytes) else repr(x))
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


# ---- raw HTTP ------------------------------------------------------------------------------------


class Resp:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise CheckFailed(f"HTTP {self.status} body is not JSON ({e}): {short(self.body)}")

    def __repr__(self) -> str:
        return f"HTTP {self.status} {short(self.body, 300)}"


class Http:
    def __init__(self, base_url: str, api_key: str | None):
        u = urllib.parse.urlsplit(base_url)
        expect(u.scheme == "http" and u.hostname, f"--base-url must be http://HOST:PORT, not {base_url}")
        self.host = u.hostname
        self.port = u.port or 80
        self.prefix = u.path.rstrip("/")
        self.api_key = api_key

    def auth_headers(self, auth: bool | str = True) -> dict[str, str]:
        if isinstance(auth, str):
            return {"Authorization": f"Bearer {auth}"}
        return {"Authorization": f"Bearer {self.api_key}"} if auth and self.api_key else {}

    def request(
        self,
        method: str,
        path: str,
        body=None,
        headers: dict | None = None,
        auth: bool | str = True,
        timeout: float = 180,
    ) -> Resp:
        h = self.auth_headers(auth)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            try:
                conn.request(method, self.prefix + path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer (413) and close before reading the whole body
            r = conn.getresponse()
            data = r.read()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def post(self, path: str, body, **kw) -> Resp:
        return self.request("POST", path, body, **kw)

    def get(self, path: str, **kw) -> Resp:
        return self.request("GET", path, **kw)

    def raw_socket(self, method: str, path: str, body: dict, timeout: float = 60) -> socket.socket:
        """Sends a request on a new socket and returns it unread (the caller reads and closes)."""
        data = json.dumps(body).encode()
        head = [
            f"{method} {self.prefix}{path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
            "Connection: close",
        ]
        head += [f"{k}: {v}" for k, v in self.auth_headers().items()]
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        return s


def param_matches(got, want) -> bool:
    """want: a name, a set of names, or "name*" (the name or a field inside it: name.x, name[0].y)."""
    if isinstance(want, (set, tuple, list)):
        return any(param_matches(got, w) for w in want)
    if isinstance(want, str) and want.endswith("*"):
        base = want[:-1]
        return isinstance(got, str) and (got == base or got.startswith(base + ".") or got.startswith(base + "["))
    return got == want


def expect_error(r: Resp, status: int, param=ANY, err_type=ANY) -> dict:
    expect(r.status == status, f"expected HTTP {status}, got {r!r}")
    j = r.json()
    expect(isinstance(j, dict) and isinstance(j.get("error"), dict), f"no error object: {short(r.body)}")
    e = j["error"]
    for k in ("message", "type", "param", "code"):
        expect(k in e, f"error object lacks '{k}': {short(r.body)}")
    expect(isinstance(e["message"], str) and e["message"], f"error.message empty: {short(r.body)}")
    expect(isinstance(e["type"], str) and e["type"], f"error.type not a string: {short(r.body)}")
    expect(e["code"] is None, f"error.code is not null: {short(r.body)}")
    if status == 400:
        expect(e["type"] == "invalid_request_error", f"error.type {e['type']!r} != invalid_request_error")
    if err_type is not ANY:
        expect(e["type"] == err_type, f"error.type {e['type']!r} != {err_type!r}")
    if param is not ANY:
        expect(
            param_matches(e["param"], param),
            f"error.param {e['param']!r}, expected {param!r} (message: {e['message']!r})",
        )
    return e


def parse_sse(body: bytes) -> list:
    """Strict SSE framing: `data: X\\n\\n` events, the last `data: [DONE]`. Returns the JSON payloads."""
    text = body.decode("utf-8")
    expect(text.endswith("\n\n"), f"stream does not end with a blank line: ...{short(text[-200:])}")
    events = text[:-2].split("\n\n")
    expect(events and events[-1] == "data: [DONE]", f"stream does not end with 'data: [DONE]': ...{short(text[-300:])}")
    out = []
    for ev in events[:-1]:
        lines = [ln for ln in ev.split("\n") if not ln.startswith(":")]  # SSE comments allowed
        if not lines:
            continue
        expect(len(lines) == 1 and lines[0].startswith("data: "), f"bad SSE event {short(ev)!r}")
        try:
            out.append(json.loads(lines[0][len("data: ") :]))
        except ValueError as e:
            raise CheckFailed(f"SSE event is not JSON ({e}): {short(ev)!r}")
    expect(out, "stream holds no chunk before [DONE]")
    return out


# ---- /metrics ------------------------------------------------------------------------------------

METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)( \d+)?$")


def parse_metrics(text: str) -> list[tuple[str, str, float]]:
    out = []
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = METRIC_LINE.match(ln)
        expect(m is not None, f"not a Prometheus sample line: {ln!r}")
        try:
            v = float(m.group(3))
        except ValueError:
            raise CheckFailed(f"bad sample value in {ln!r}")
        out.append((m.group(1), m.group(2) or "", v))
    return out


def metric_sum(samples, name: str, label_sub: str = "") -> float | None:
    vals = [v for n, labels, v in samples if n == name and label_sub in labels]
    return sum(vals) if vals else None


# ---- the checks ----------------------------------------------------------------------------------


class Suite:
    def __init__(self, a):
        self.a = a
        self.http = Http(a.base_url, a.api_key)
        self.base = a.base_url.rstrip("/")
        self.failed: list[str] = []
        self.passed = 0
        self.client = None
        self.ref = None  # the greedy chat reference (content, reasoning, usage, finish, timings)

    # -- infrastructure
    def openai(self):
        if self.client is None:
            import openai

            self.client = openai.OpenAI(
                base_url=self.base + "/v1", api_key=self.a.api_key or "no-key", max_retries=0, timeout=180
            )
        return self.client

    def check(self, name: str, fn) -> None:
        t0 = time.monotonic()
        try:
            note = fn()
            self.passed += 1
            note = f"  {note}" if isinstance(note, str) and note else ""
            print(f"{PREFIX} ok   {name} ({time.monotonic() - t0:.1f} s){note}", flush=True)
        except CheckFailed as e:
            self.failed.append(name)
            print(f"{PREFIX} FAIL {name}: {e}", flush=True)
        except Exception as e:  # a client exception is a failure of the server's contract too
            self.failed.append(name)
            detail = ""
            body = getattr(e, "body", None)
            if body is not None:
                detail = f" body={short(json.dumps(body) if not isinstance(body, (str, bytes)) else body)}"
            print(f"{PREFIX} FAIL {name}: {type(e).__name__}: {e}{detail}", flush=True)
            if self.a.verbose:
                traceback.print_exc()

    def msgs(self, text: str = "What is 2+3? Answer with one number."):
        return [{"role": "user", "content": text}]

    def chat_raw(self, **kw):
        """A chat completion through the openai client; returns (parsed, raw JSON dict)."""
        r = self.openai().chat.completions.with_raw_response.create(model=self.a.model_name, **kw)
        return r.parse(), json.loads(r.text)

    def check_usage(self, u: dict, max_completion: int | None = None) -> None:
        for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
            expect(isinstance(u.get(k), int) and u[k] >= 0, f"usage.{k} missing or not a count: {u}")
        expect(
            u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"],
            f"usage.total_tokens {u['total_tokens']} != prompt {u['prompt_tokens']} + completion {u['completion_tokens']}",
        )
        expect(u["prompt_tokens"] > 0, f"usage.prompt_tokens is 0: {u}")
        d = u.get("completion_tokens_details")
        expect(
            isinstance(d, dict) and isinstance(d.get("reasoning_tokens"), int),
            f"usage.completion_tokens_details.reasoning_tokens missing: {u}",
        )
        expect(
            0 <= d["reasoning_tokens"] <= u["completion_tokens"],
            f"reasoning_tokens {d['reasoning_tokens']} not in [0, completion_tokens]: {u}",
        )
        if max_completion is not None:
            expect(
                u["completion_tokens"] <= max_completion,
                f"completion_tokens {u['completion_tokens']} > the limit {max_completion}",
            )

    def check_common(self, j: dict, obj: str, n: int) -> None:
        expect(j.get("object") == obj, f"object {j.get('object')!r} != {obj!r}")
        expect(isinstance(j.get("id"), str) and j["id"], f"id missing: {short(json.dumps(j))}")
        if obj == "chat.completion":
            expect(j["id"].startswith("chatcmpl-"), f"id {j['id']!r} does not start with chatcmpl-")
        expect(isinstance(j.get("created"), int), f"created not an integer: {j.get('created')!r}")
        expect(isinstance(j.get("model"), str), f"model not a string: {j.get('model')!r}")
        ch = j.get("choices")
        expect(isinstance(ch, list) and len(ch) == n, f"expected {n} choices, got {short(json.dumps(ch))}")
        expect(sorted(c.get("index") for c in ch) == list(range(n)), f"choice indices {[c.get('index') for c in ch]}")
        for c in ch:
            expect(c.get("finish_reason") in ("stop", "length"), f"finish_reason {c.get('finish_reason')!r}")
        t = j.get("timings")
        expect(isinstance(t, dict), "timings missing")
        for k in ("prompt_ms", "ttft_ms", "decode_ms", "tpot_ms"):
            expect(isinstance(t.get(k), (int, float)) and t[k] >= 0, f"timings.{k} = {t.get(k)!r}")
        en = j.get("energy")
        expect(
            isinstance(en, dict) and isinstance(en.get("source"), str) and isinstance(en.get("estimated"), bool),
            f"energy malformed: {en!r}",
        )
        for k in ("prefill_j", "decode_j"):
            expect(k in en and (en[k] is None or isinstance(en[k], (int, float))), f"energy.{k} = {en.get(k)!r}")
        if n > 1:
            v = j.get("vote")
            expect(isinstance(v, dict), f"n={n} but no vote object: {short(json.dumps(j))}")
            expect(v.get("mode") in ("majority", "weighted"), f"vote.mode {v.get('mode')!r}")
            expect(v.get("winner") is None or isinstance(v["winner"], str), f"vote.winner {v.get('winner')!r}")
            expect(isinstance(v.get("winner_index"), int), f"vote.winner_index {v.get('winner_index')!r}")
            if v["winner"] is not None:
                expect(0 <= v["winner_index"] < n, f"vote.winner_index {v['winner_index']} not a choice")
            tally = v.get("tally")
            expect(
                isinstance(tally, list)
                and all(
                    isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], (int, float))
                    for p in tally
                ),
                f"vote.tally not [[answer, count], ...]: {tally!r}",
            )
            expect(
                sum(p[1] for p in tally) <= n + 1e-9 or v["mode"] == "weighted",
                f"vote.tally counts more than {n} paths: {tally!r}",
            )
            if v["winner"] is not None:
                expect(
                    any(p[0] == v["winner"] for p in tally), f"vote.winner {v['winner']!r} not in the tally {tally!r}"
                )

    # -- groups
    def g_models(self):
        def models_list():
            ms = self.openai().models.list()
            data = list(ms.data)
            expect(len(data) == 1, f"expected one model, got {[m.id for m in data]}")
            m = data[0]
            expect(
                m.object == "model" and m.owned_by == "edgereason" and isinstance(m.created, int), f"model entry {m}"
            )
            if self.a.model_name:
                expect(m.id == self.a.model_name, f"model id {m.id!r} != {self.a.model_name!r}")
            r = self.http.get("/v1/models")
            j = r.json()
            expect(r.status == 200 and j.get("object") == "list", f"raw /v1/models: {r!r}")
            return f"id={m.id}"

        self.check("openai: models.list()", models_list)

    def g_chat(self):
        def chat():
            p, j = self.chat_raw(messages=self.msgs(), max_tokens=24, temperature=0, seed=7)
            self.check_common(j, "chat.completion", 1)
            c = p.choices[0]
            expect(isinstance(c.message.content, str), f"content is {type(c.message.content).__name__}")
            expect(c.message.role == "assistant", f"role {c.message.role!r}")
            msg = j["choices"][0]["message"]
            for k in ("reasoning_content", "reasoning"):
                expect(
                    k in msg and (msg[k] is None or isinstance(msg[k], str)),
                    f"message.{k} = {msg.get(k, '<absent>')!r}",
                )
            u = j["usage"]
            self.check_usage(u, 24)
            expect(
                p.usage.total_tokens == p.usage.prompt_tokens + p.usage.completion_tokens, "parsed usage inconsistent"
            )
            if c.finish_reason == "length":
                expect(
                    u["completion_tokens"] == 24,
                    f"finish_reason length but completion_tokens {u['completion_tokens']} != max_tokens 24",
                )
            self.ref = {
                "content": c.message.content,
                "reasoning": msg.get("reasoning_content") or "",
                "usage": u,
                "finish": c.finish_reason,
                "timings": j["timings"],
            }
            return (
                f"{u['completion_tokens']} tokens, finish={c.finish_reason}, content={short(c.message.content, 60)!r}"
            )

        self.check("openai: chat.completions.create (greedy, usage, timings, energy)", chat)

        def max_completion_tokens():
            p, j = self.chat_raw(messages=self.msgs(), max_completion_tokens=5, temperature=0, seed=7)
            self.check_usage(j["usage"], 5)
            if self.ref and self.ref["usage"]["completion_tokens"] >= 5:
                expect(
                    j["choices"][0]["finish_reason"] == "length" and j["usage"]["completion_tokens"] == 5,
                    f"max_completion_tokens=5: finish {j['choices'][0]['finish_reason']}, usage {j['usage']}",
                )

        self.check("openai: max_completion_tokens caps the completion", max_completion_tokens)

        def sampling_fields():
            p, j = self.chat_raw(
                messages=self.msgs(),
                max_tokens=8,
                temperature=0.7,
                top_p=0.9,
                seed=3,
                extra_body={"top_k": 40, "min_p": 0.05},
            )
            self.check_common(j, "chat.completion", 1)
            self.check_usage(j["usage"], 8)

        self.check("openai: temperature/top_p/top_k/min_p/seed accepted", sampling_fields)

        def seeded_repeat():
            kw = dict(messages=self.msgs("Name a colour."), max_tokens=12, temperature=1.0, seed=1234)
            a = self.chat_raw(**kw)[1]["choices"][0]["message"]["content"]
            b = self.chat_raw(**kw)[1]["choices"][0]["message"]["content"]
            expect(a == b, f"same seed, different text: {a!r} vs {b!r}")

        self.check("openai: same seed and temperature 1 give the same text", seeded_repeat)

        def conversation():
            msgs = [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "What is 1+1?"},
            ]
            p, j = self.chat_raw(messages=msgs, max_tokens=8, temperature=0)
            self.check_common(j, "chat.completion", 1)

        self.check("openai: system/user/assistant conversation", conversation)

        def content_parts():
            # What newer OpenAI clients send: a developer message, content as text parts.
            msgs = [
                {"role": "developer", "content": "You are terse."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is 2+3? "},
                        {"type": "text", "text": "Answer with one number."},
                    ],
                },
            ]
            p, j = self.chat_raw(messages=msgs, max_tokens=4, temperature=0)
            self.check_common(j, "chat.completion", 1)

        self.check("openai: developer role and content as text parts", content_parts)

        def unknown_fields():
            p, j = self.chat_raw(
                messages=self.msgs(),
                max_tokens=4,
                temperature=0,
                user="u1",
                frequency_penalty=0,
                presence_penalty=0,
                logit_bias={},
                stop=[],
                extra_body={"some_unknown_field": {"x": 1}, "cache_prompt": True},
            )
            self.check_common(j, "chat.completion", 1)

        self.check("openai: unknown and OpenAI-only fields ignored, empty stop accepted", unknown_fields)

        def stop_refused():
            import openai

            try:
                self.openai().chat.completions.create(
                    model=self.a.model_name, messages=self.msgs(), max_tokens=4, stop=["\n"]
                )
            except openai.BadRequestError as e:
                expect(e.status_code == 400 and e.param == "stop", f"status {e.status_code}, param {e.param!r}")
                return
            raise CheckFailed("a non-empty stop was accepted")

        self.check("openai: non-empty stop -> BadRequestError param 'stop'", stop_refused)

    def g_stream(self):
        def stream():
            expect(self.ref is not None, "needs the chat group's greedy reference")
            chunks = list(
                self.openai().chat.completions.create(
                    model=self.a.model_name,
                    messages=self.msgs(),
                    max_tokens=24,
                    temperature=0,
                    seed=7,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
            expect(chunks, "no chunks")
            ids = {c.id for c in chunks}
            expect(len(ids) == 1, f"chunk ids differ: {ids}")
            expect(
                all(c.object == "chat.completion.chunk" for c in chunks),
                "a chunk's object is not chat.completion.chunk",
            )
            content, reasoning, finishes, roles = [], [], [], []
            for k, c in enumerate(chunks):
                for ch in c.choices:
                    expect(ch.index == 0, f"chunk index {ch.index}")
                    expect(not finishes, f"a delta after the finish_reason: {c}")
                    d = ch.delta
                    if d.role:
                        roles.append(k)
                    if d.content:
                        content.append(d.content)
                    r = getattr(d, "reasoning_content", None)
                    r2 = getattr(d, "reasoning", None)
                    expect(r == r2, f"delta reasoning_content {r!r} != reasoning {r2!r}")
                    if r:
                        reasoning.append(r)
                    if ch.finish_reason is not None:
                        finishes.append(ch.finish_reason)
            expect(
                roles and roles[0] == 0 and chunks[0].choices[0].delta.role == "assistant",
                f"the first chunk does not carry role assistant (roles in chunks {roles})",
            )
            expect(
                finishes == [self.ref["finish"]],
                f"finish_reasons {finishes}, non-streaming gave {self.ref['finish']!r}",
            )
            last = chunks[-1]
            expect(last.choices == [] and last.usage is not None, f"the last chunk is not the usage chunk: {last}")
            u = last.usage.model_dump()
            self.check_usage(u, 24)
            for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
                expect(u[k] == self.ref["usage"][k], f"stream usage.{k} {u[k]} != non-streaming {self.ref['usage'][k]}")
            expect(all(c.usage is None for c in chunks[:-1]), "usage in a chunk before the last")
            text = "".join(content)
            expect(text == self.ref["content"], f"streamed content {text!r} != non-streaming {self.ref['content']!r}")
            expect(
                "".join(reasoning) == self.ref["reasoning"],
                f"streamed reasoning {''.join(reasoning)!r} != {self.ref['reasoning']!r}",
            )
            return f"{len(chunks)} chunks"

        self.check("openai: streaming deltas == non-streaming greedy content, usage chunk", stream)

        def stream_no_usage():
            chunks = list(
                self.openai().chat.completions.create(
                    model=self.a.model_name, messages=self.msgs(), max_tokens=6, temperature=0, stream=True
                )
            )
            expect(all(c.choices for c in chunks), "a chunk with empty choices without include_usage")
            expect(chunks[-1].choices[0].finish_reason in ("stop", "length"), f"last chunk {chunks[-1]}")

        self.check("openai: stream without include_usage ends with the finish_reason", stream_no_usage)

        def raw_sse():
            r = self.http.post(
                "/v1/chat/completions",
                {
                    "messages": self.msgs(),
                    "max_tokens": 8,
                    "temperature": 0,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
            )
            expect(r.status == 200, f"{r!r}")
            ct = r.headers.get("content-type", "")
            expect(ct.startswith("text/event-stream"), f"content-type {ct!r}")
            ev = parse_sse(r.body)
            expect(all(e.get("object") == "chat.completion.chunk" for e in ev), "chunk object")
            expect(ev[-1].get("choices") == [] and isinstance(ev[-1].get("usage"), dict), f"last event {ev[-1]}")
            self.check_usage(ev[-1]["usage"], 8)
            for e in ev[:-1]:
                for c in e["choices"]:
                    expect("finish_reason" in c, f"chunk choice lacks finish_reason (null expected): {e}")
            return f"{len(ev)} events"

        self.check("raw: SSE framing (data: ...\\n\\n, [DONE] last, text/event-stream)", raw_sse)

    def g_paths(self):
        n = min(3, self.a.max_n)

        def n_paths():
            p, j = self.chat_raw(messages=self.msgs(), max_tokens=16, temperature=0.8, seed=5, n=n)
            self.check_common(j, "chat.completion", n)
            expect(len(p.choices) == n, f"parsed {len(p.choices)} choices")
            self.check_usage(j["usage"], 16 * n)
            return f"vote={json.dumps(j['vote'])[:120]}"

        self.check(f"openai: n={n} temperature 0.8 -> {n} choices and a vote", n_paths)

        def weighted():
            p, j = self.chat_raw(
                messages=self.msgs(),
                max_tokens=8,
                temperature=0.8,
                seed=5,
                n=2,
                extra_body={"vote": "weighted", "early_stop": True, "deadline_s": 60},
            )
            self.check_common(j, "chat.completion", 2)
            expect(j["vote"]["mode"] == "weighted", f"vote.mode {j['vote']['mode']!r}")

        self.check("openai: n=2 vote=weighted early_stop deadline_s", weighted)

        def stream_n():
            chunks = list(
                self.openai().chat.completions.create(
                    model=self.a.model_name,
                    messages=self.msgs(),
                    max_tokens=8,
                    temperature=0.8,
                    seed=5,
                    n=2,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
            fin = {}
            for c in chunks:
                for ch in c.choices:
                    expect(ch.index in (0, 1), f"chunk index {ch.index}")
                    expect(ch.index not in fin, f"delta for index {ch.index} after its finish_reason")
                    if ch.finish_reason is not None:
                        fin[ch.index] = ch.finish_reason
            expect(sorted(fin) == [0, 1], f"finish_reasons per index: {fin}")
            expect(chunks[-1].usage is not None, "no usage chunk")

        self.check("openai: streaming n=2 (both indices finish)", stream_n)

    def g_thinking(self):
        def ok(**kw):
            def f():
                p, j = self.chat_raw(messages=self.msgs(), max_tokens=16, temperature=0, seed=2, **kw)
                self.check_common(j, "chat.completion", 1)
                self.check_usage(j["usage"], 16)
                expect(isinstance(p.choices[0].message.content, str), "content not a string")
                return j

            return f

        self.check(
            "openai: extra_body thinking_budget_tokens=8 answer_budget_tokens=8",
            ok(extra_body={"thinking_budget_tokens": 8, "answer_budget_tokens": 8}),
        )
        self.check(
            "openai: extra_body thinking_token_budget=8 (vLLM name)", ok(extra_body={"thinking_token_budget": 8})
        )
        self.check(
            "openai: extra_body min_thinking_tokens=0 reasoning_format=deepseek",
            ok(extra_body={"min_thinking_tokens": 0, "reasoning_format": "deepseek"}),
        )
        self.check("openai: reasoning_effort=low", ok(reasoning_effort="low"))

        def no_think(**kw):
            f = ok(**kw)

            def g():
                j = f()
                m = j["choices"][0]["message"]
                expect(
                    not m.get("reasoning_content") and not m.get("reasoning"),
                    f"thinking off but reasoning returned: {short(json.dumps(m))}",
                )
                expect(
                    j["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0,
                    f"thinking off but reasoning_tokens {j['usage']['completion_tokens_details']['reasoning_tokens']}",
                )

            return g

        self.check(
            "openai: chat_template_kwargs.enable_thinking=false (no reasoning)",
            no_think(extra_body={"chat_template_kwargs": {"enable_thinking": False}}),
        )
        self.check("openai: reasoning_effort=none (no reasoning)", no_think(reasoning_effort="none"))

        def reasoning_format_none():
            j = ok(extra_body={"reasoning_format": "none"})()
            m = j["choices"][0]["message"]
            expect(
                not m.get("reasoning_content"),
                f"reasoning_format none but reasoning_content {m.get('reasoning_content')!r}",
            )

        self.check("openai: reasoning_format=none (thinking left in content)", reasoning_format_none)

    def g_completions(self):
        ref = {}

        def comp():
            r = self.openai().completions.with_raw_response.create(
                model=self.a.model_name, prompt="The capital of France is", max_tokens=16, temperature=0, seed=3
            )
            p, j = r.parse(), json.loads(r.text)
            self.check_common(j, "text_completion", 1)
            expect(isinstance(p.choices[0].text, str), "text not a string")
            self.check_usage(j["usage"], 16)
            ref.update(text=p.choices[0].text, finish=p.choices[0].finish_reason, usage=j["usage"])
            return f"text={short(p.choices[0].text, 60)!r}"

        self.check("openai: completions.create (greedy)", comp)

        def comp_stream():
            expect(ref, "needs the non-streaming completion")
            chunks = list(
                self.openai().completions.create(
                    model=self.a.model_name,
                    prompt="The capital of France is",
                    max_tokens=16,
                    temperature=0,
                    seed=3,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
            expect(all(c.object == "text_completion" for c in chunks), "chunk object is not text_completion")
            text = "".join(ch.text or "" for c in chunks for ch in c.choices)
            fins = [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason]
            expect(text == ref["text"], f"streamed {text!r} != non-streaming {ref['text']!r}")
            expect(fins == [ref["finish"]], f"finish_reasons {fins} vs {ref['finish']!r}")
            expect(chunks[-1].choices == [] and chunks[-1].usage is not None, f"last chunk {chunks[-1]}")
            expect(chunks[-1].usage.completion_tokens == ref["usage"]["completion_tokens"], "stream usage differs")

        self.check("openai: completions streaming == non-streaming", comp_stream)

        def comp_n():
            r = self.openai().completions.with_raw_response.create(
                model=self.a.model_name, prompt="2+2=", max_tokens=6, temperature=0.8, seed=9, n=2
            )
            self.check_common(json.loads(r.text), "text_completion", 2)

        self.check("openai: completions n=2", comp_n)

        def comp_errors():
            expect_error(self.http.post("/v1/completions", {"max_tokens": 4}), 400, "prompt")
            expect_error(self.http.post("/v1/completions", {"prompt": 7, "max_tokens": 4}), 400, "prompt")
            expect_error(self.http.post("/v1/completions", {"prompt": "x", "max_tokens": 0}), 400, "max_tokens")
            expect_error(self.http.post("/v1/completions", {"prompt": "", "max_tokens": 2}), 400, "prompt")
            expect_error(
                self.http.post("/v1/completions", {"prompt": "x", "max_tokens": 2, "thinking_budget_tokens": 8}), 400
            )

        self.check("raw: completions: no/non-string/empty prompt, max_tokens 0, thinking fields -> 400", comp_errors)

    def g_concurrent(self):
        def concurrent():
            expect(self.ref is not None, "needs the chat group's greedy reference")
            out: list = [None] * 3
            err: list = []

            def one(k):
                try:
                    _, j = self.chat_raw(messages=self.msgs(), max_tokens=24, temperature=0, seed=7)
                    out[k] = j["choices"][0]["message"]["content"]
                except Exception as e:  # noqa: BLE001
                    err.append(f"{type(e).__name__}: {e}")

            ts = [threading.Thread(target=one, args=(k,)) for k in range(3)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            expect(not err, f"errors: {err}")
            expect(
                all(o == self.ref["content"] for o in out),
                f"concurrent greedy texts differ from alone: {out} vs {self.ref['content']!r}",
            )

        self.check("openai: 3 concurrent greedy requests == alone (batch invariance)", concurrent)

    def g_errors(self):
        h = self.http
        good = {"messages": self.msgs(), "max_tokens": 4, "temperature": 0}

        def with_(**kw):
            b = dict(good)
            b.update(kw)
            return b

        def without(k):
            return {a: v for a, v in good.items() if a != k}

        cases = [
            ("malformed JSON", '{"messages": [', None),
            ("body is not an object", "[1, 2]", None),
            ("empty body", "", None),
            ("messages missing", without("messages"), "messages"),
            ("messages empty", with_(messages=[]), "messages*"),
            ("messages not an array", with_(messages="hi"), "messages*"),
            (
                "last message not user",
                with_(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]),
                "messages*",
            ),
            ("unknown role", with_(messages=[{"role": "wizard", "content": "a"}]), "messages*"),
            ("content not a string", with_(messages=[{"role": "user", "content": 5}]), "messages*"),
            ("n=0", with_(n=0), "n"),
            (f"n={self.a.max_n + 1} (> --max-n)", with_(n=self.a.max_n + 1), "n"),
            ("n=1.5", with_(n=1.5), "n"),
            ("temperature=-1", with_(temperature=-1), "temperature"),
            ("temperature='hot'", with_(temperature="hot"), "temperature"),
            ("max_tokens=0", with_(max_tokens=0), "max_tokens"),
            ("max_tokens='16'", with_(max_tokens="16"), "max_tokens"),
            ("max_completion_tokens=-3", with_(max_completion_tokens=-3), "max_completion_tokens"),
            ("top_p=0", with_(top_p=0), "top_p"),
            ("top_p=1.5", with_(top_p=1.5), "top_p"),
            ("top_k=-1", with_(top_k=-1), "top_k"),
            ("min_p=1", with_(min_p=1), "min_p"),
            ("seed=-1", with_(seed=-1), "seed"),
            ("stream='yes'", with_(stream="yes"), "stream"),
            ("stop non-empty", with_(stop="\n"), "stop"),
            ("reasoning_format='bogus'", with_(reasoning_format="bogus"), "reasoning_format"),
            ("reasoning_effort='extreme'", with_(reasoning_effort="extreme"), "reasoning_effort"),
            (
                "thinking_budget_tokens=-2 (-1 is llama.cpp's unlimited)",
                with_(thinking_budget_tokens=-2),
                "thinking_budget_tokens",
            ),
            ("min_thinking_tokens=-1", with_(min_thinking_tokens=-1), "min_thinking_tokens"),
            ("chat_template_kwargs not an object", with_(chat_template_kwargs=True), "chat_template_kwargs*"),
            ("stream_options not an object", with_(stream_options=1), "stream_options*"),
            ("answer_budget_tokens=0", with_(answer_budget_tokens=0), "answer_budget_tokens"),
            ("deadline_s=0", with_(deadline_s=0), "deadline_s"),
            ("vote='plurality'", with_(vote="plurality"), "vote"),
            (
                "enable_thinking=false with thinking_budget_tokens",
                with_(chat_template_kwargs={"enable_thinking": False}, thinking_budget_tokens=8),
                {"thinking_budget_tokens", "chat_template_kwargs*"},
            ),
            (
                "reasoning_effort=none with thinking_budget_tokens",
                with_(reasoning_effort="none", thinking_budget_tokens=8),
                {"thinking_budget_tokens", "reasoning_effort", "chat_template_kwargs*"},
            ),
            (
                "reasoning_effort=low with thinking_budget_tokens=8",
                with_(reasoning_effort="low", thinking_budget_tokens=8),
                {"thinking_budget_tokens", "reasoning_effort"},
            ),
            (
                "thinking_budget_tokens != thinking_token_budget",
                with_(thinking_budget_tokens=8, thinking_token_budget=16),
                {"thinking_budget_tokens", "thinking_token_budget"},
            ),
            (
                "deadline_s with thinking_budget_tokens",
                with_(deadline_s=5, thinking_budget_tokens=8),
                {"thinking_budget_tokens", "deadline_s"},
            ),
            (
                "min_thinking_tokens with enable_thinking=false",
                with_(min_thinking_tokens=4, chat_template_kwargs={"enable_thinking": False}),
                {"min_thinking_tokens", "chat_template_kwargs*"},
            ),
        ]
        for name, body, param in cases:

            def f(body=body, param=param):
                e = expect_error(h.post("/v1/chat/completions", body), 400, ANY if param is None else param)
                if param is None:
                    expect("param" in e, "error.param missing")
                return f"param={e['param']!r}"

            self.check(f"raw: 400 for {name}", f)

        def too_long():
            words = max(2 * self.a.ctx, 64)  # well over the context in any tokenizer
            body = with_(messages=self.msgs("hello " * words))
            expect(
                len(json.dumps(body)) < self.a.max_body_bytes,
                "the long prompt does not fit under --max-body-bytes; raise it",
            )
            e = expect_error(h.post("/v1/chat/completions", body), 400)
            return f"param={e['param']!r}: {short(e['message'], 100)}"

        self.check(f"raw: 400 for a prompt longer than the context ({self.a.ctx})", too_long)

        def too_big():
            pad = "x" * (self.a.max_body_bytes + 1024)
            r = h.post("/v1/chat/completions", json.dumps(with_(messages=self.msgs(pad))))
            expect_error(r, 413)

        self.check(f"raw: 413 for a body over --max-body-bytes ({self.a.max_body_bytes})", too_big)

        def declared_too_big():
            # Content-Length over the limit, body not sent: reported, not required (a server may
            # read and discard the declared body before answering 413).
            s = socket.create_connection((h.host, h.port), timeout=2)
            try:
                head = (
                    f"POST {h.prefix}/v1/chat/completions HTTP/1.1\r\nHost: {h.host}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {self.a.max_body_bytes * 4}\r\n"
                )
                head += "".join(f"{k}: {v}\r\n" for k, v in h.auth_headers().items())
                s.sendall((head + "\r\n").encode())
                buf = b""
                while b"\r\n\r\n" not in buf:
                    d = s.recv(4096)
                    if not d:
                        break
                    buf += d
                expect(
                    buf.startswith(b"HTTP/1.1 413") or buf.startswith(b"HTTP/1.0 413"),
                    f"declared oversize Content-Length answered {short(buf, 200)!r}",
                )
                return "413 before the body was sent"
            except socket.timeout:
                return "info: no answer within 2 s; the server reads (discards) a declared oversize body before its 413"
            finally:
                s.close()

        self.check("raw: a declared Content-Length over the limit (body not sent)", declared_too_big)

        def not_found():
            expect_error(h.get("/v1/nope"), 404)
            r = h.post("/v1/embeddings", {"input": "x"})
            expect(r.status == 404, f"POST /v1/embeddings: {r!r}")

        self.check("raw: 404 for an unknown path", not_found)

        def wrong_method():
            r = h.get("/v1/chat/completions")
            expect(r.status in (404, 405), f"GET /v1/chat/completions: {r!r}")
            r = h.request("DELETE", "/v1/models")
            expect(r.status in (404, 405), f"DELETE /v1/models: {r!r}")
            r = h.post("/health", {})
            expect(r.status in (404, 405), f"POST /health: {r!r}")
            return f"status {r.status}"

        self.check("raw: 404/405 for a wrong method", wrong_method)

        def health():
            r = h.get("/health", auth=False)
            expect(r.status == 200 and r.json() == {"status": "ok"}, f"{r!r}")

        self.check("raw: GET /health", health)

        def server_alive_after_errors():
            _, j = self.chat_raw(messages=self.msgs(), max_tokens=4, temperature=0)
            self.check_common(j, "chat.completion", 1)

        self.check("openai: a request still succeeds after the bad ones", server_alive_after_errors)

    def g_metrics(self):
        def metrics():
            r = self.http.get("/metrics")
            expect(r.status == 200, f"{r!r}")
            ct = r.headers.get("content-type", "")
            expect(
                ct.startswith("text/plain") and "0.0.4" in ct, f"content-type {ct!r} (want text/plain; version=0.0.4)"
            )
            s = parse_metrics(r.body.decode())
            names = {n for n, _, _ in s}
            want = [
                "edgereason_requests_total",
                "edgereason_queue_depth",
                "edgereason_requests_in_flight",
                "edgereason_prompt_tokens_total",
                "edgereason_reasoning_tokens_total",
                "edgereason_answer_tokens_total",
                "edgereason_energy_joules_total",
            ]
            for hname in ("edgereason_ttft_seconds", "edgereason_tpot_seconds", "edgereason_e2e_seconds"):
                want += [hname + "_bucket", hname + "_sum", hname + "_count"]
            missing = [w for w in want if w not in names]
            expect(not missing, f"missing metrics: {missing}")
            ok200 = [
                (lb, v) for n, lb, v in s if n == "edgereason_requests_total" and 'status="200"' in lb and "chat" in lb
            ]
            expect(
                ok200 and sum(v for _, v in ok200) > 0,
                f"no edgereason_requests_total for chat with status 200: "
                f"{[(lb, v) for n, lb, v in s if n == 'edgereason_requests_total']}",
            )
            if "errors" in self.groups:
                bad = [v for n, lb, v in s if n == "edgereason_requests_total" and 'status="400"' in lb]
                expect(bad and sum(bad) > 0, "no edgereason_requests_total with status 400 after the bad requests")
            for hname in ("edgereason_ttft_seconds", "edgereason_e2e_seconds"):
                cnt = metric_sum(s, hname + "_count")
                inf = metric_sum(s, hname + "_bucket", 'le="+Inf"')
                expect(cnt and cnt > 0, f"{hname}_count is {cnt}")
                expect(inf == cnt, f'{hname}_bucket{{le="+Inf"}} {inf} != _count {cnt}')
                buckets = [v for n, lb, v in s if n == hname + "_bucket"]
                expect(buckets == sorted(buckets), f"{hname} buckets not cumulative: {buckets}")
            pt = metric_sum(s, "edgereason_prompt_tokens_total")
            expect(pt and pt > 0, f"edgereason_prompt_tokens_total {pt}")
            return f"{len(s)} samples"

        self.check("raw: GET /metrics (Prometheus text, all series, counts)", metrics)

    def g_curl(self):
        if not shutil.which("curl"):
            print(f"{PREFIX} skip curl group: curl not installed", flush=True)
            return
        auth = ["-H", f"Authorization: Bearer {self.a.api_key}"] if self.a.api_key else []
        body = {"model": self.a.model_name, "messages": self.msgs(), "max_tokens": 8, "temperature": 0}

        def curl_plain():
            p = subprocess.run(
                [
                    "curl",
                    "-sS",
                    "--max-time",
                    "120",
                    "-H",
                    "Content-Type: application/json",
                    *auth,
                    "-d",
                    json.dumps(body),
                    self.base + "/v1/chat/completions",
                ],
                capture_output=True,
                text=True,
            )
            expect(p.returncode == 0, f"curl rc {p.returncode}: {p.stderr}")
            j = json.loads(p.stdout)
            self.check_common(j, "chat.completion", 1)

        self.check("curl -sS: chat completion", curl_plain)

        def curl_stream():
            b = dict(body, stream=True)
            p = subprocess.run(
                [
                    "curl",
                    "-sS",
                    "-N",
                    "--max-time",
                    "120",
                    "-H",
                    "Content-Type: application/json",
                    *auth,
                    "-d",
                    json.dumps(b),
                    self.base + "/v1/chat/completions",
                ],
                capture_output=True,
                text=True,
            )
            expect(p.returncode == 0, f"curl rc {p.returncode}: {p.stderr}")
            expect("data: [DONE]" in p.stdout, f"no 'data: [DONE]' in {short(p.stdout)}")
            parse_sse(p.stdout.encode())

        self.check("curl -N: streamed chat shows data: [DONE]", curl_stream)

    # -- disconnects and load
    def idle_gauges(self, timeout: float) -> tuple[float, float, float]:
        """Polls /metrics until in_flight and queue_depth are back to idle; returns (in_flight, queue, seconds)."""
        t0 = time.monotonic()
        while True:
            s = parse_metrics(self.http.get("/metrics").body.decode())
            fl = metric_sum(s, "edgereason_requests_in_flight") or 0
            q = metric_sum(s, "edgereason_queue_depth") or 0
            if (fl <= self.idle_in_flight and q == 0) or time.monotonic() - t0 > timeout:
                return fl, q, time.monotonic() - t0
            time.sleep(0.1)

    def long_body(self, stream: bool = True) -> dict:
        # A request that decodes for a long time: counting, to near the context's end. ignore_eos:
        # greedy SmolLM2 stops counting after ~120 tokens (under a second), which let the admission
        # test's queued requests finish before its extra request came (CI, stop 22).
        return {
            "messages": self.msgs("Count from 1 to 2000, one number per line."),
            "max_tokens": max(16, self.a.ctx - 96),
            "ignore_eos": True,
            "temperature": 0,
            "stream": stream,
        }

    def read_some(self, s: socket.socket, want: bytes, timeout: float) -> bytes:
        buf = b""
        end = time.monotonic() + timeout
        while want not in buf and time.monotonic() < end:
            s.settimeout(max(0.05, end - time.monotonic()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            buf += d
        return buf

    def measure_idle(self) -> None:
        s = parse_metrics(self.http.get("/metrics").body.decode())
        # The /metrics request may count itself as in flight; the idle value is the baseline.
        self.idle_in_flight = metric_sum(s, "edgereason_requests_in_flight") or 0

    def g_disconnect(self):
        def disconnect_stream():
            self.measure_idle()
            s = self.http.raw_socket("POST", "/v1/chat/completions", self.long_body())
            try:
                buf = self.read_some(s, b"\ndata: ", 60)
                expect(buf.startswith(b"HTTP/1.1 200"), f"streaming request answered {short(buf, 200)!r}")
                expect(b"data: " in buf, f"no first chunk within 60 s: {short(buf, 300)!r}")
            finally:
                s.close()
            fl, q, waited = self.idle_gauges(10)
            expect(
                fl <= self.idle_in_flight and q == 0,
                f"10 s after the client went away: requests_in_flight {fl}, queue_depth {q} (the path was not cancelled)",
            )
            _, j = self.chat_raw(messages=self.msgs(), max_tokens=4, temperature=0)
            self.check_common(j, "chat.completion", 1)
            note = f"slot freed {waited:.1f} s after the disconnect"
            if self.ref:
                full = self.ref["timings"]["tpot_ms"] * self.long_body()["max_tokens"] / 1000
                if full < 3 * max(waited, 0.5):
                    note += f" (inconclusive: the whole generation would take only ~{full:.1f} s)"
                else:
                    note += f" (the whole generation would take ~{full:.0f} s)"
            return note

        self.check(
            "raw: client disconnects after the first chunk -> slot freed, next request answered", disconnect_stream
        )

        def disconnect_nonstream():
            # A non-streaming client that goes away is noticed only if the server watches the socket;
            # required here: the server gets back to idle (cancelled or not), and says which.
            self.measure_idle()
            body = self.long_body(stream=False)
            s = self.http.raw_socket("POST", "/v1/chat/completions", body)
            time.sleep(1.0)
            s.close()
            fl, q, waited = self.idle_gauges(60)
            expect(
                fl <= self.idle_in_flight and q == 0,
                f"60 s after a non-streaming client went away: in_flight {fl}, queue {q}",
            )
            note = f"idle again {waited:.1f} s after the disconnect"
            if self.ref:
                full = self.ref["timings"]["tpot_ms"] * body["max_tokens"] / 1000
                note += f" (the whole generation: ~{full:.1f} s)"
            return note

        self.check("raw: non-streaming client disconnects -> server idle again", disconnect_nonstream)

    def g_overload(self):
        def overload():
            self.measure_idle()
            admit = self.a.parallel + self.a.queue
            socks = []
            try:
                for _ in range(admit):
                    socks.append(self.http.raw_socket("POST", "/v1/chat/completions", self.long_body()))
                bufs = {s: b"" for s in socks}
                end = time.monotonic() + 60
                while time.monotonic() < end and sum(b"data: " in b for b in bufs.values()) < self.a.parallel:
                    ready, _, _ = select.select(socks, [], [], 0.2)
                    for s in ready:
                        d = s.recv(65536)
                        bufs[s] += d
                streaming = sum(b"data: " in b for b in bufs.values())
                early503 = [k for k, s in enumerate(socks) if bufs[s].startswith(b"HTTP/1.1 503")]
                expect(
                    not early503,
                    f"requests {early503} of {admit} (parallel {self.a.parallel} + queue {self.a.queue}) got 503",
                )
                expect(
                    streaming >= self.a.parallel,
                    f"only {streaming} of {self.a.parallel} parallel requests streaming within 60 s",
                )
                time.sleep(0.5)  # let the server admit the queued ones
                r = self.http.post("/v1/chat/completions", {"messages": self.msgs(), "max_tokens": 4}, timeout=30)
                expect(r.status == 503, f"request {admit + 1} with {admit} admitted: expected 503, got {r!r}")
                expect_error(r, 503)
                ra = r.headers.get("retry-after")
                expect(
                    ra is not None and ra.strip().isdigit(), f"503 without a numeric Retry-After header: {r.headers}"
                )
                # The admitted ones were not refused meanwhile.
                for s in socks:
                    ready, _, _ = select.select([s], [], [], 0)
                    if ready:
                        bufs[s] += s.recv(65536)
                early503 = [k for k, s in enumerate(socks) if bufs[s].startswith(b"HTTP/1.1 503")]
                expect(not early503, f"admitted requests {early503} got 503")
                h = self.http.get("/health", auth=False)
                expect(h.status == 200, f"/health while full: {h!r}")
            finally:
                for s in socks:
                    s.close()
            fl, q, waited = self.idle_gauges(60)
            expect(
                fl <= self.idle_in_flight and q == 0, f"60 s after {admit} clients went away: in_flight {fl}, queue {q}"
            )
            _, j = self.chat_raw(messages=self.msgs(), max_tokens=4, temperature=0)
            self.check_common(j, "chat.completion", 1)
            return f"Retry-After {ra}; idle {waited:.1f} s after the clients left"

        self.check(
            f"raw: {self.a.parallel}+{self.a.queue} admitted -> next gets 503 + Retry-After; all freed on disconnect",
            overload,
        )

    def g_bytes(self):
        """Near-uniform sampling emits byte tokens, so token pieces and whole texts can hold
        invalid or split UTF-8: the server must still answer (valid JSON) and stay up."""
        body = {
            "messages": self.msgs("Write emoji and Chinese: "),
            "max_tokens": 48,
            "temperature": 20,
            "top_k": 0,
            "top_p": 1,
            "min_p": 0,
        }

        def alive(what):
            try:
                r = self.http.get("/health", auth=False, timeout=10)
            except OSError as e:
                raise CheckFailed(f"the server is gone after {what} ({type(e).__name__}: {e})") from None
            expect(r.status == 200, f"/health after {what}: {r!r}")

        def nonstream():
            bad = []
            for seed in range(1, 5):
                r = self.http.post("/v1/chat/completions", dict(body, seed=seed))
                if r.status != 200:
                    bad.append(f"seed {seed}: {r!r} {r.headers.get('exception_what', '')}")
                    continue
                self.check_common(r.json(), "chat.completion", 1)
            alive("random-byte completions")
            expect(not bad, "; ".join(bad))

        self.check("raw: temperature 20, no truncation (invalid UTF-8 pieces): 200 for seeds 1-4", nonstream)

        def stream():
            bad = []
            for seed in range(1, 5):
                try:
                    r = self.http.post("/v1/chat/completions", dict(body, seed=seed, stream=True))
                except (OSError, http.client.HTTPException) as e:
                    bad.append(f"seed {seed}: {type(e).__name__}: {e}")
                    break
                try:
                    expect(r.status == 200, f"{r!r}")
                    ev = parse_sse(r.body)
                    errs = [e for e in ev if "error" in e]
                    expect(not errs, f"error event {errs[:1]}")
                except CheckFailed as e:
                    bad.append(f"seed {seed}: {e}")
            alive("random-byte streams")
            expect(not bad, "; ".join(bad))

        self.check("raw: the same streamed: complete SSE streams, server alive", stream)

    def g_auth(self):
        key = self.a.api_key
        if not key:
            print(f"{PREFIX} skip auth group: no --api-key", flush=True)
            return
        h = self.http

        def health_no_key():
            r = h.get("/health", auth=False)
            expect(r.status == 200, f"{r!r}")

        self.check("auth: GET /health needs no key", health_no_key)

        for method, path, body in (
            ("GET", "/v1/models", None),
            ("GET", "/metrics", None),
            ("POST", "/v1/chat/completions", {"messages": self.msgs(), "max_tokens": 2}),
            ("POST", "/v1/completions", {"prompt": "a", "max_tokens": 2}),
        ):

            def f(method=method, path=path, body=body):
                expect_error(h.request(method, path, body, auth=False), 401)
                expect_error(h.request(method, path, body, auth=key + "x"), 401)
                r = h.request(method, path, body, headers={"Authorization": key})  # no "Bearer "
                expect(r.status == 401, f"a key without 'Bearer ': {r!r}")
                r = h.request(method, path, body)
                expect(r.status == 200, f"with the key: {r!r}")

            self.check(f"auth: {method} {path}: 401 without/with a wrong key, 200 with it", f)

        def openai_wrong_key():
            import openai

            c = openai.OpenAI(base_url=self.base + "/v1", api_key=key + "x", max_retries=0, timeout=60)
            try:
                c.models.list()
            except openai.AuthenticationError as e:
                expect(e.status_code == 401, f"status {e.status_code}")
            else:
                raise CheckFailed("a wrong key was accepted")
            _, j = self.chat_raw(messages=self.msgs(), max_tokens=4, temperature=0)
            self.check_common(j, "chat.completion", 1)

        self.check("auth: openai client: wrong key -> AuthenticationError, right key works", openai_wrong_key)

    def g_sigterm(self):
        pid = self.a.server_pid
        if not pid:
            print(f"{PREFIX} skip sigterm group: no --server-pid", flush=True)
            return

        def sigterm():
            # An in-flight request of about 3 s (from this machine's time per token), so that the
            # new request below arrives while it still runs.
            r = self.http.post("/v1/chat/completions", {"messages": self.msgs(), "max_tokens": 16, "temperature": 0})
            expect(r.status == 200, f"calibration request: {r!r}")
            tpot = max(float(r.json()["timings"]["tpot_ms"]), 0.05)
            max_tokens = int(min(max(3000 / tpot, 32), max(32, self.a.ctx - 96)))
            s = self.http.raw_socket(
                "POST",
                "/v1/chat/completions",
                {
                    "messages": self.msgs("Count from 1 to 2000, one number per line."),
                    "max_tokens": max_tokens,
                    "temperature": 0,
                    "stream": True,
                },
                timeout=120,
            )
            try:
                buf = self.read_some(s, b"\ndata: ", 60)
                expect(buf.startswith(b"HTTP/1.1 200") and b"data: " in buf, f"in-flight request: {short(buf, 200)!r}")
                os.kill(pid, signal.SIGTERM)
                time.sleep(0.2)
                s.setblocking(False)
                try:
                    buf += s.recv(1 << 20)
                except (BlockingIOError, socket.timeout):
                    pass
                s.setblocking(True)
                done_before = b"data: [DONE]" in buf
                health = None
                if not done_before:
                    try:
                        health = self.http.get("/health", auth=False, timeout=10)
                    except OSError:
                        pass
                try:
                    r = self.http.post("/v1/chat/completions", {"messages": self.msgs(), "max_tokens": 4}, timeout=30)
                    refused = None
                except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected) as e:
                    r, refused = None, e
                # The in-flight request completes.
                s.settimeout(120)
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    buf += d
                expect(
                    b"data: [DONE]" in buf, f"the in-flight request was cut off by SIGTERM: ...{short(buf[-300:])!r}"
                )
                expect(b'"finish_reason":"' in buf.replace(b'": "', b'":"'), "no finish_reason in the in-flight stream")
                if refused is not None:
                    if done_before:
                        return f"inconclusive: the in-flight request ({max_tokens} tokens) ended before the new one was sent"
                    raise CheckFailed(
                        f"a new request during shutdown was refused ({type(refused).__name__}) instead of 503"
                    )
                expect(r.status == 503, f"a new request during shutdown: expected 503, got {r!r}")
                expect("retry-after" in r.headers, f"503 during shutdown without Retry-After: {r.headers}")
                expect_error(r, 503)
                if health is not None:
                    expect(health.status == 503, f"/health while shutting down: {health!r} (want 503)")
            finally:
                s.close()

        self.check("sigterm: in-flight request completes, new ones get 503", sigterm)

    def run(self, groups: list[str]) -> int:
        self.groups = groups
        self.idle_in_flight = 0
        for g in groups:
            getattr(self, "g_" + g)()
        total = self.passed + len(self.failed)
        if self.failed:
            print(f"{PREFIX} {len(self.failed)} of {total} checks FAILED: " + "; ".join(self.failed), flush=True)
            return 1
        print(f"{PREFIX} all {total} checks passed", flush=True)
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True, help="http://HOST:PORT of the server")
    ap.add_argument("--model-name", default="", help="the id /v1/models must list (e.g. smollm2)")
    ap.add_argument("--api-key", default=os.environ.get("EDGEREASON_API_KEY") or None)
    ap.add_argument("--parallel", type=int, default=2, help="the server's --parallel")
    ap.add_argument("--queue", type=int, default=8, help="the server's --queue")
    ap.add_argument("--max-n", type=int, default=8, help="the server's --max-n")
    ap.add_argument("--ctx", type=int, default=4096, help="the server's -c")
    ap.add_argument("--max-body-bytes", type=int, default=1048576, help="the server's --max-body-bytes")
    ap.add_argument("--server-pid", type=int, default=0, help="the server's pid (the sigterm group)")
    ap.add_argument("--only", default="", help=f"comma-separated groups among {','.join(GROUPS)}")
    ap.add_argument("--skip", default="", help="comma-separated groups to leave out")
    ap.add_argument("-v", "--verbose", action="store_true", help="tracebacks of client exceptions")
    a = ap.parse_args()
    groups = [g for g in a.only.split(",") if g] or list(DEFAULT_GROUPS)
    skip = {g for g in a.skip.split(",") if g}
    bad = [g for g in list(groups) + list(skip) if g not in GROUPS]
    if bad:
        print(f"{PREFIX} unknown group(s) {bad}; groups: {','.join(GROUPS)}", file=sys.stderr)
        return 2
    groups = [g for g in groups if g not in skip]
    try:
        suite = Suite(a)
    except CheckFailed as e:
        print(f"{PREFIX} {e}", file=sys.stderr)
        return 2
    if not a.model_name:
        try:
            a.model_name = suite.http.get("/v1/models").json()["data"][0]["id"]
        except Exception:  # noqa: BLE001
            a.model_name = "default"
    print(f"{PREFIX} {a.base_url} model {a.model_name}: groups {','.join(groups)}", flush=True)
    return suite.run(groups)


if __name__ == "__main__":
    sys.exit(main())
