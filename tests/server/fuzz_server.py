#!/usr/bin/env python3
"""Fuzzes a running `edgereason serve` from its published API description (docs/openapi.yaml)
with schemathesis: the description's examples, boundary values, and valid and invalid bodies for
every operation. Checks: no response is a server error (5xx), every response conforms to the
description (status, content type, headers, body schema), and the server is alive afterwards.

    tests/server/fuzz_server.py --base-url http://127.0.0.1:8080 [--max-examples 30] [--max-n 4]
                                [--api-key KEY] [--server-pid PID] [--seed 1]

Runs `schemathesis run` (the CLI of the venv this python belongs to). So that a fuzzed request
costs a CPU server well under a second, it fuzzes a copy of the description with tighter ranges
(max_tokens/max_completion_tokens <= --max-tokens, n <= --max-n, token budgets <= 64, short
strings) and, through a schemathesis hook (this file again, via SCHEMATHESIS_HOOKS), adds
max_tokens to the JSON objects that lack it (the server's default is 512). Exit status: schemathesis's (0 =
no failure), or 1 when the server died or stopped answering /health.
"""

from __future__ import annotations

import os

ENV_MAX_TOKENS = "EDGEREASON_FUZZ_MAX_TOKENS"
# No 5xx; and each response's status, content type, headers and JSON body as the description says,
# so that docs/openapi.yaml stays true to the server.
DEFAULT_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]

if __name__ == "_schemathesis_hooks":  # loaded by schemathesis as its hooks module
    import schemathesis

    @schemathesis.hook
    def before_call(context, case, kwargs):  # noqa: ARG001
        # A body without max_tokens would decode the server's default (512 per path).
        body = case.body
        if case.method.upper() != "POST" or not isinstance(body, dict):
            return
        if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
            body["max_tokens"] = int(os.environ.get(ENV_MAX_TOKENS, "8"))


def tighten(spec: dict, base_url: str, max_n: int, max_tokens: int) -> list[str]:
    """Narrows the ranges of the request schemas in place; returns what it changed."""
    changes = []
    spec["servers"] = [{"url": base_url}]
    schemas = spec["components"]["schemas"]

    def cap(schema: str, prop: str, **kw):
        p = schemas[schema]["properties"][prop]
        p.update(kw)
        changes.append(f"{schema}.{prop}: {kw}")

    cap("GenerationOptions", "max_tokens", maximum=max_tokens)
    cap("GenerationOptions", "max_completion_tokens", maximum=max_tokens)
    cap("GenerationOptions", "n", maximum=max_n)
    cap("ThinkingOptions", "deadline_s", maximum=30)
    cap("ThinkingOptions", "thinking_budget_tokens", maximum=64)
    cap("ThinkingOptions", "thinking_token_budget", maximum=64)
    cap("ThinkingOptions", "min_thinking_tokens", maximum=max_tokens)
    cap("ThinkingOptions", "answer_budget_tokens", maximum=max_tokens)
    cap("TextPart", "text", maxLength=100)

    def cap_strings(schema: dict, where: str) -> None:  # the string and array branches of a oneOf
        for branch in schema.get("oneOf", [schema]):
            if branch.get("type") == "string":
                branch["maxLength"] = 200
            elif branch.get("type") == "array":
                branch["maxItems"] = 4
        changes.append(f"{where}: strings <= 200, arrays <= 4")

    cap_strings(schemas["ChatMessage"]["properties"]["content"], "ChatMessage.content")
    # Each SSE event's data checked as the chunk (or error) JSON it holds, or [DONE]: JSON Schema's
    # contentMediaType/contentSchema, which schemathesis applies to events but Open API 3.0 lacks.
    for event, chunk in (
        ("ChatCompletionChunkEvent", "ChatCompletionChunk"),
        ("TextCompletionChunkEvent", "TextCompletionChunk"),
    ):
        schemas[event]["properties"]["data"] = {
            "anyOf": [
                {"type": "string", "enum": ["[DONE]"]},
                {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {
                        "anyOf": [{"$ref": f"#/components/schemas/{chunk}"}, {"$ref": "#/components/schemas/Error"}]
                    },
                },
            ]
        }
        changes.append(f"{event}.data: [DONE] or {chunk}/Error JSON")
    for part in schemas["ChatCompletionRequest"]["allOf"]:
        if "messages" in part.get("properties", {}):
            part["properties"]["messages"]["maxItems"] = 4
            changes.append("ChatCompletionRequest.messages: {'maxItems': 4}")
    for part in schemas["CompletionRequest"]["allOf"]:
        if "prompt" in part.get("properties", {}):
            cap_strings(part["properties"]["prompt"], "CompletionRequest.prompt")
    return changes


def main() -> int:
    import argparse
    import subprocess
    import sys
    import tempfile
    import time
    import urllib.error
    import urllib.request

    import yaml

    prefix = "fuzz-server:"
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--spec", default=os.path.join(here, "..", "..", "docs", "openapi.yaml"))
    ap.add_argument("--max-examples", type=int, default=30, help="test cases per operation and phase")
    ap.add_argument("--max-n", type=int, default=8, help="the server's --max-n")
    ap.add_argument("--max-tokens", type=int, default=8, help="largest max_tokens generated")
    ap.add_argument("--phases", default="examples,coverage,fuzzing")
    ap.add_argument(
        "--checks",
        default=",".join(DEFAULT_CHECKS),
        help="schemathesis checks (default: no 5xx, and every response as docs/openapi.yaml describes it)",
    )
    ap.add_argument(
        "--workers",
        default="1",
        help="schemathesis workers (threads; more than 1 trips a CPython 3.11 ast race in hypothesis)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--api-key", default=os.environ.get("EDGEREASON_API_KEY") or None)
    ap.add_argument("--server-pid", type=int, default=0, help="checked to be alive afterwards")
    ap.add_argument("--report-dir", default="", help="keep schemathesis's reports (junit, ndjson) here")
    a = ap.parse_args()

    with open(a.spec) as f:
        spec = yaml.safe_load(f)
    changes = tighten(spec, a.base_url.rstrip("/"), a.max_n, a.max_tokens)
    print(
        f"{prefix} fuzzing {os.path.relpath(a.spec)} against {a.base_url}, narrowed: " + "; ".join(changes), flush=True
    )

    st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    if not os.path.exists(st):
        print(
            f"{prefix} no schemathesis beside {sys.executable} (run this with the server venv's python)",
            file=sys.stderr,
        )
        return 2

    with tempfile.TemporaryDirectory(prefix="edgereason-fuzz-") as tmp:
        fuzz_spec = os.path.join(tmp, "openapi.fuzz.yaml")
        with open(fuzz_spec, "w") as f:
            yaml.safe_dump(spec, f, sort_keys=False)
        report_dir = os.path.abspath(a.report_dir) if a.report_dir else os.path.join(tmp, "report")
        cmd = [
            st,
            "run",
            fuzz_spec,
            "--url",
            a.base_url.rstrip("/"),
            "--checks",
            a.checks,
            "--max-examples",
            str(a.max_examples),
            "--phases",
            a.phases,
            "--workers",
            a.workers,
            "--seed",
            str(a.seed),
            "--request-timeout",
            "60",
            "--generation-database",
            "none",
            "--suppress-health-check",
            "all",
            "--no-color",
            "--output-sanitize",
            "false",
            "--continue-on-failure",
            "--report",
            "junit",
            "--report-dir",
            report_dir,
        ]
        if a.api_key:
            cmd += ["--header", f"Authorization: Bearer {a.api_key}"]
        env = dict(os.environ, SCHEMATHESIS_HOOKS=os.path.abspath(__file__), **{ENV_MAX_TOKENS: str(a.max_tokens)})
        shown = [c if not c.startswith("Authorization:") else "Authorization: Bearer ***" for c in cmd]
        print(f"{prefix} $ " + " ".join(shown), flush=True)
        t0 = time.monotonic()
        # In the temporary directory: schemathesis keeps a crash cache (.schemathesis/) in its working
        # directory, which would otherwise land in the repository and replay old runs.
        rc = subprocess.run(cmd, env=env, cwd=tmp).returncode
        print(f"{prefix} schemathesis exit {rc} after {time.monotonic() - t0:.0f} s", flush=True)

    alive = True
    if a.server_pid:
        try:
            os.kill(a.server_pid, 0)
        except ProcessLookupError:
            alive = False
            print(f"{prefix} FAIL the server (pid {a.server_pid}) died during the fuzzing", flush=True)
    if alive:
        try:
            with urllib.request.urlopen(a.base_url.rstrip("/") + "/health", timeout=30) as r:
                ok = r.status == 200
        except (urllib.error.URLError, OSError) as e:
            ok = False
            print(f"{prefix} FAIL /health after the fuzzing: {e}", flush=True)
        if ok:
            print(f"{prefix} server alive and healthy after the fuzzing", flush=True)
        alive = ok
    if not alive:
        return 1
    return rc


if __name__ == "__main__":
    import sys

    sys.exit(main())
