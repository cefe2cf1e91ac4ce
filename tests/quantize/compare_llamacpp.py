#!/usr/bin/env python3
"""`edgereason quantize` against llama.cpp's quantizer (llama_model_quantize through llama-cpp-python).

From one F16 input (made by `edgereason quantize --type f16` from SmolLM2), every target is
quantized by both tools, with llama.cpp's default parameters (its per-tensor mix) and with
pure=True (llama-quantize --pure); the outputs must hold the same tensors in the same order,
of the same types (the tensor-type table), with byte-identical data, and the same metadata apart
from our edgereason.quantize.* keys. Then llama.cpp loads each of our outputs and its
last-position logits for a short prompt must agree with our engine's on the same file (relative
L2 error within 2e-2 or half of what quantizing changed in llama.cpp's own logits).

Run with the llama-cpp-python venv's python (scripts/llamacpp-venv.sh):

    ~/.cache/edgereason/llamacpp-venv/bin/python tests/quantize/compare_llamacpp.py \\
        --bin build/bin/edgereason --logits-bin build/bin/er_last_logits --model models/smollm2.gguf
"""
import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import GGUF  # noqa: E402

# Our target name -> llama.cpp's llama_ftype value, and whether a mix exists (Q4_K: pure only).
TARGETS = [("F32", 0, False), ("F16", 1, False), ("BF16", 32, False), ("Q8_0", 7, True), ("Q4_0", 2, True),
           ("Q4_1", 3, True), ("Q5_0", 8, True), ("Q4_K", 14, False), ("Q6_K", 18, True), ("Q4_K_M", 15, True)]
OUR_KEYS = ("edgereason.quantize.",)
# Short: the comparison must not hinge on long-prompt arithmetic (see docs/quantize.md).
PROMPT = "The capital of France is"
# The two engines' logits on the same file may differ (activation rounding: llama.cpp's repacked
# Q4_0 and BF16 paths round activations differently from ours) by 2e-2, as the engine's golden
# tests allow, or by half of what quantizing changes in llama.cpp's own logits, whichever is more.
MAX_REL_L2 = 2e-2
MAX_FRACTION_OF_QUANT = 0.5


def llama_quantize(src, dst, ftype, pure):
    import llama_cpp
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.pure = pure
    p.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({src} -> ftype {ftype}, pure={pure}) failed: {rc}")


def compare_files(ours_path, theirs_path, ftype):
    """Problems found (empty: identical tensors, types, data and metadata)."""
    ours, theirs = GGUF(ours_path), GGUF(theirs_path)
    problems = []
    names_o = [t[0] for t in ours.tensors]
    names_t = [t[0] for t in theirs.tensors]
    if names_o != names_t:
        problems.append(f"tensor order differs: {names_o[:4]}... vs {names_t[:4]}...")
    for name in names_t:
        if name not in ours.by_name:
            problems.append(f"{name}: missing")
            continue
        to, tt = ours.type_name(name), theirs.type_name(name)
        if to != tt:
            problems.append(f"{name}: type {to}, llama.cpp {tt}")
        elif ours.by_name[name][1] != theirs.by_name[name][1]:
            problems.append(f"{name}: dims {ours.by_name[name][1]}, llama.cpp {theirs.by_name[name][1]}")
        elif ours.tensor_bytes(name) != theirs.tensor_bytes(name):
            problems.append(f"{name} ({to}): data differs")
    # llama.cpp copies the input's metadata, our keys from making the F16 input included.
    kv_o = {k: v for k, v in ours.kv.items() if not k.startswith(OUR_KEYS)}
    kv_t = {k: v for k, v in theirs.kv.items() if not k.startswith(OUR_KEYS)}
    for k in sorted(set(kv_o) | set(kv_t)):
        if kv_o.get(k) != kv_t.get(k):
            problems.append(f"metadata {k}: {str(kv_o.get(k))[:40]!r} vs llama.cpp {str(kv_t.get(k))[:40]!r}")
    if ours.kv.get("general.file_type") != ftype:
        problems.append(f"general.file_type {ours.kv.get('general.file_type')}, want {ftype}")
    for key in ("source_file", "source_type", "type"):
        if f"edgereason.quantize.{key}" not in ours.kv:
            problems.append(f"edgereason.quantize.{key} missing")
    return problems, [(n, theirs.type_name(n)) for n in names_t]


def type_table(types):
    counts = {}
    for _, t in types:
        counts[t] = counts.get(t, 0) + 1
    return ", ".join(f"{t} {n}" for t, n in sorted(counts.items()))


def llama_logits_here(model, out):
    """In this process: llama.cpp's last-position logits for PROMPT, saved with the tokens to OUT (.npz)."""
    import numpy as np
    import llama_cpp
    llm = llama_cpp.Llama(model_path=model, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=2, n_threads_batch=2,
                          flash_attn=False, logits_all=False, verbose=False)
    tokens = llm.tokenize(PROMPT.encode(), add_bos=True, special=True)
    llm.eval(tokens)
    n_vocab = llm.n_vocab()
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,)).astype(np.float32)
    np.savez(out, tokens=np.array(tokens, dtype=np.int64), logits=logits)


def llama_logits(model, work):
    """llama.cpp's tokens and logits for PROMPT, each model in a fresh process: evaluations after
    another model (or another prompt) in the same process were seen to differ from a fresh one's."""
    import numpy as np
    out = os.path.join(work, "llama.logits.npz")
    subprocess.run([sys.executable, os.path.abspath(__file__), "--llama-logits", model, out], check=True)
    z = np.load(out)
    return [int(t) for t in z["tokens"]], z["logits"].astype(np.float32)


def logits_check(model, logits_bin, work, reference):
    """(rel L2 ours vs llama.cpp, rel L2 llama.cpp vs llama.cpp on the F16 input, our top, their top)."""
    import numpy as np
    tokens, theirs = llama_logits(model, work)
    out = os.path.join(work, "ours.logits.f32")
    r = subprocess.run([logits_bin, model, out] + [str(t) for t in tokens], capture_output=True, text=True)
    if r.returncode != 0:
        if "is not supported" in r.stderr:  # an architecture our engine does not run (yet)
            return None
        raise RuntimeError(f"{logits_bin} failed: {r.stderr.strip()}")
    ours = np.fromfile(out, dtype=np.float32)
    rel = float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs))
    quant = float(np.linalg.norm(theirs - reference) / np.linalg.norm(reference))
    return rel, quant, int(np.argmax(ours)), int(np.argmax(theirs))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/bin/edgereason")
    ap.add_argument("--logits-bin", default="build/bin/er_last_logits")
    ap.add_argument("--model", default="models/smollm2.gguf")
    ap.add_argument("--types", help="comma-separated subset of " + ",".join(t[0] for t in TARGETS))
    ap.add_argument("--no-logits", action="store_true", help="skip loading the outputs in llama.cpp")
    ap.add_argument("--keep", help="keep the files in this directory")
    ap.add_argument("--llama-logits", nargs=2, metavar=("MODEL", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    import llama_cpp
    llama_cpp.llama_backend_init()
    quiet = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(quiet, ctypes.c_void_p(0))
    if args.llama_logits:
        llama_logits_here(*args.llama_logits)
        return 0

    wanted = set(args.types.upper().split(",")) if args.types else None
    work = args.keep or tempfile.mkdtemp(prefix="er-quantize-")
    os.makedirs(work, exist_ok=True)
    failures = 0
    try:
        f16 = os.path.join(work, "input-f16.gguf")
        subprocess.run([args.bin, "quantize", args.model, f16, "--type", "f16", "--force", "-q"], check=True,
                       stdout=subprocess.DEVNULL)
        reference = None if args.no_logits else llama_logits(f16, work)[1]
        for name, ftype, has_mix in TARGETS:
            if wanted and name not in wanted:
                continue
            modes = [False, True] if has_mix else [True]
            for pure in modes:
                label = f"{name}{' pure' if pure and has_mix else ''}"
                ours = os.path.join(work, f"ours-{name}{'-pure' if pure else ''}.gguf")
                theirs = os.path.join(work, f"llamacpp-{name}{'-pure' if pure else ''}.gguf")
                t0 = time.monotonic()
                cmd = [args.bin, "quantize", f16, ours, "--type", name, "--force", "-q"] + (["--pure"] if pure and has_mix else [])
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                t_ours = time.monotonic() - t0
                t0 = time.monotonic()
                llama_quantize(f16, theirs, ftype, pure)
                t_theirs = time.monotonic() - t0
                problems, types = compare_files(ours, theirs, ftype)
                os.remove(theirs)
                status = "identical" if not problems else f"{len(problems)} PROBLEM(S)"
                print(f"quantize {label:12s}: {status}: {len(types)} tensors ({type_table(types)}); "
                      f"ours {t_ours:.1f} s, llama.cpp {t_theirs:.1f} s", flush=True)
                for p in problems[:10]:
                    print(f"    {p}")
                failures += bool(problems)
                # llama.cpp loads our output and agrees with our engine on it.
                if not args.no_logits:
                    check = logits_check(ours, args.logits_bin, work, reference)
                    if check is None:
                        print("    loaded by llama.cpp; logits not compared: our engine does not run this architecture")
                    else:
                        rel, quant, top_o, top_t = check
                        limit = max(MAX_REL_L2, MAX_FRACTION_OF_QUANT * quant)
                        ok = rel <= limit  # top tokens are printed, not required: a badly degraded model has near ties
                        print(f"    loaded by llama.cpp: logits rel L2 vs ours {rel:.2e} (limit {limit:.1e}; "
                              f"llama.cpp vs its logits on the F16 input {quant:.2e}), "
                              f"top token ours {top_o}, llama.cpp {top_t}: {'ok' if ok else 'FAIL'}", flush=True)
                        failures += not ok
                if not args.keep:
                    os.remove(ours)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("quantize vs llama.cpp: " + ("all identical" if failures == 0 else f"{failures} failure(s)"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
