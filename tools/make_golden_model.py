#!/usr/bin/env python3
"""Makes llama.cpp golden files for the engine tests: prompt tokens, last-position logits and
greedy continuations (with llama.cpp's top-2 margin at every step, to recognize near ties).

Runs llama.cpp through the PyPI package llama-cpp-python (see scripts/llamacpp-venv.sh); the
package version, model sha256 and settings are recorded in the output.

    tools/make_golden_model.py --model models/smollm2.gguf --name smollm2 \
        --prompts tools/golden_prompts.json --out tests/golden/data/model --logits-dtype f16
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def last_logits(llm, n_vocab):
    """The logits of the last evaluated position (llama-cpp-python keeps no copy without logits_all)."""
    import llama_cpp
    ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(ptr, shape=(n_vocab,)).astype(np.float32).copy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="GGUF file")
    ap.add_argument("--name", required=True, help="short name used for the output files")
    ap.add_argument("--prompts", required=True, help="JSON list of {id, text}")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--ids", help="comma-separated prompt ids to use (default: all)")
    ap.add_argument("--n-predict", type=int, default=64)
    ap.add_argument("--n-ctx", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--logits-dtype", choices=["f16", "f32"], default="f16")
    args = ap.parse_args()

    import llama_cpp

    with open(args.prompts, encoding="utf-8") as f:
        prompts = json.load(f)
    if args.ids:
        wanted = args.ids.split(",")
        prompts = [p for p in prompts if p["id"] in wanted]
    os.makedirs(args.out, exist_ok=True)

    settings = dict(n_ctx=args.n_ctx, n_batch=512, n_ubatch=512, n_threads=args.threads,
                    flash_attn=False, type_k="f16", type_v="f16", logits_all=False)
    llm = llama_cpp.Llama(model_path=args.model, n_ctx=args.n_ctx, n_batch=512, n_ubatch=512,
                          n_threads=args.threads, n_threads_batch=args.threads, flash_attn=False,
                          logits_all=False, verbose=False)
    n_vocab = llm.n_vocab()
    records = []
    for i, p in enumerate(prompts):
        tokens = llm.tokenize(p["text"].encode("utf-8"), add_bos=True, special=True)
        if len(tokens) + args.n_predict > args.n_ctx:
            sys.exit(f"prompt {p['id']}: {len(tokens)} tokens + {args.n_predict} exceed n_ctx {args.n_ctx}")
        llm.reset()
        llm.eval(tokens)
        last = last_logits(llm, n_vocab)
        logits_file = f"{args.name}.p{i}.logits.{args.logits_dtype}"
        last.astype(np.float16 if args.logits_dtype == "f16" else np.float32).tofile(
            os.path.join(args.out, logits_file))
        greedy, margins = [], []
        logits = last
        for _ in range(args.n_predict):
            order = np.argsort(-logits, kind="stable")[:2]
            tok = int(order[0])
            greedy.append(tok)
            margins.append(float(logits[order[0]] - logits[order[1]]))
            llm.eval([tok])
            logits = last_logits(llm, n_vocab)
        records.append(dict(id=p["id"], n_prompt=len(tokens), tokens=tokens, logits_file=logits_file,
                            greedy=greedy, top2_margin=[round(m, 5) for m in margins]))
        print(f"{args.name}: prompt {p['id']}: {len(tokens)} tokens, greedy {greedy[:8]}...", file=sys.stderr)

    # The CPU features the llama.cpp build used (an AVX2-only build computes differently from the
    # AVX-512 one the engine mirrors bit for bit: docs/engine.md).
    system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()
    out = dict(tool="tools/make_golden_model.py", llama_cpp_python=llama_cpp.__version__, system_info=system_info,
               model_file=os.path.basename(args.model), model_sha256=sha256_file(args.model),
               n_vocab=n_vocab, logits_dtype=args.logits_dtype, settings=settings, prompts=records)
    with open(os.path.join(args.out, f"{args.name}.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
