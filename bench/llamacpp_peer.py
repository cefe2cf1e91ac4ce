#!/usr/bin/env python3
"""llama.cpp peer for `edgereason bench`: the same tests on the same model file, through the
low-level API of the PyPI package llama-cpp-python (ctypes over libllama), printed as records with
edgereason bench's field names plus `engine` and `version`.

    python bench/llamacpp_peer.py -m models/smollm2.gguf -p 512 -n 128 --paths 1,4,8 -t 2 -r 5

Tests (what `edgereason bench` does, read from src/cli/cmd_bench.cpp):

  ppN   N prompt token ids, random from edgereason's generator (xoshiro256**, seed 1234 + N, id =
        next_u64() % n_vocab: the very same ids), one sequence, decoded in chunks of -b tokens
        (n_batch = n_ubatch = -b), logits of the last token only. Timed: the llama_decode calls.
        The cache is cleared before every repetition.
  tgN   a 1-token prompt (seed 1234, the same id as ours) decoded into sequence 0, its KV copied
        into sequences 1..P-1 (llama_memory_seq_cp), the first token of every path by argmax of the
        prompt's logits (that is TTFT), then exactly N decode steps: each step is ONE llama_decode
        of a batch with P tokens (one per sequence, all with logits) followed by an argmax over
        llama_get_logits_ith(i) for every path. Timed: the N steps. Counted: P * N tokens
        (aggregate tok/s = P * N / decode time). With P = 1 this is the usual tg128.

Settings: n_threads = n_threads_batch = -t, flash attention off, f16 K and V, mmap (default),
KV per sequence (kv_unified off: every sequence has its own KV stream, as edgereason's paths do;
--kv-unified switches to one shared buffer). Each (test, paths) configuration gets one context,
created once and reused by its warm-ups and repetitions, as in edgereason bench.

Progress goes to stderr; records go to stdout (-o json: one array; jsonl: one object per line).
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import statistics
import sys
import time

MASK64 = (1 << 64) - 1
TOKEN_SEED = 1234  # kTokenSeed in src/cli/cmd_bench.cpp


class Rng:
    """er::sampling::Rng (xoshiro256**, splitmix64 seeding), bit for bit."""

    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = (seed + 0x9E3779B97F4A7C15) & MASK64
            z = seed
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next_u64(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result


def random_tokens(n, n_vocab, seed):
    rng = Rng(seed)
    return [rng.next_u64() % n_vocab for _ in range(n)]


def parse_list(text, flag):
    """edgereason's LIST syntax: a,b,c  first-last  first-last+step  first-last*factor."""
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?:([+*])(\d+))?)?", part.strip())
        if not m:
            sys.exit(f"{flag} '{text}': expected a,b,c or first-last[+step|*factor]")
        a = int(m.group(1))
        if m.group(2) is None:
            out.append(a)
            continue
        b, op, k = int(m.group(2)), m.group(3) or "+", int(m.group(4) or 1)
        if b < a or k < 1 or (op == "*" and (k < 2 or a < 1)):
            sys.exit(f"{flag} '{text}': bad range '{part}'")
        v = a
        while v <= b:
            out.append(v)
            v = v + k if op == "+" else v * k
    return out


def resolve_model(name):
    if os.path.isfile(name):
        return name
    base = os.environ.get("EDGEREASON_MODELS", "models")
    for cand in (os.path.join(base, name), os.path.join(base, name + ".gguf")):
        if os.path.isfile(cand):
            return cand
    sys.exit(f"-m '{name}': no such file, and no model '{name}' under {base}/ (scripts/get-models.sh)")


def vm_kib(field):
    """VmHWM / VmRSS of this process in KiB (Linux), or None."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def isa_level(system_info):
    """edgereason's names for the kernel level ggml was built with: avx512, avx2 or scalar."""
    if "AVX512 = 1" in system_info:
        return "avx512"
    if "AVX2 = 1" in system_info:
        return "avx2"
    return "scalar"


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default), as edgereason's stats."""
    v = sorted(values)
    if not v:
        return None
    x = (len(v) - 1) * p / 100.0
    lo = int(x)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (x - lo)


class Peer:
    def __init__(self, llama_cpp, np, model_path, n_threads, n_batch, kv_unified):
        self.L = llama_cpp
        self.np = np
        self.n_threads = n_threads
        self.n_batch = n_batch
        self.kv_unified = kv_unified
        L = llama_cpp
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(model_path.encode(), mp)
        if not self.model:
            sys.exit(f"llama.cpp could not load '{model_path}'")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        buf = ctypes.create_string_buffer(256)
        L.llama_model_desc(self.model, buf, len(buf))
        self.model_desc = buf.value.decode(errors="replace")
        self.model_size = int(L.llama_model_size(self.model))
        self.model_n_params = int(L.llama_model_n_params(self.model))
        self.ctx = None
        self.batch = None
        self.batch_cap = 0

    def close(self):
        self._free_ctx()
        self.L.llama_model_free(self.model)

    def _free_ctx(self):
        if self.batch is not None:
            self.L.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx:
            self.L.llama_free(self.ctx)
            self.ctx = None

    def new_context(self, n_ctx_per_seq, n_seq):
        """One context for a configuration: n_seq sequences of n_ctx_per_seq positions each."""
        L = self.L
        self._free_ctx()
        cp = L.llama_context_default_params()
        # Total positions, split per sequence unless kv_unified; llama.cpp pads the context to a
        # multiple of 256, so ask for that (per sequence) to keep the split exact.
        cp.n_ctx = (n_ctx_per_seq + 255) // 256 * 256 * n_seq
        cp.n_batch = self.n_batch
        cp.n_ubatch = self.n_batch
        cp.n_seq_max = n_seq
        cp.n_threads = self.n_threads
        cp.n_threads_batch = self.n_threads
        cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
        cp.type_k = L.GGML_TYPE_F16
        cp.type_v = L.GGML_TYPE_F16
        cp.kv_unified = self.kv_unified
        cp.offload_kqv = False
        cp.no_perf = True
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            sys.exit("llama.cpp could not create a context")
        self.n_ctx = int(L.llama_n_ctx(self.ctx))
        self.mem = L.llama_get_memory(self.ctx)
        self.batch_cap = max(self.n_batch, n_seq)
        self.batch = L.llama_batch_init(self.batch_cap, 0, 1)
        for i in range(self.batch_cap):
            self.batch.n_seq_id[i] = 1
            self.batch.seq_id[i][0] = 0
            self.batch.logits[i] = 0

    def _clear(self):
        self.L.llama_memory_clear(self.mem, True)

    def _seq_cp(self, src, dst):
        L = self.L
        if hasattr(L, "llama_memory_seq_cp"):
            L.llama_memory_seq_cp(self.mem, src, dst, -1, -1)
        else:  # older llama-cpp-python
            L.llama_kv_self_seq_cp(self.ctx, src, dst, -1, -1)

    def _decode(self, n):
        self.batch.n_tokens = n
        rc = self.L.llama_decode(self.ctx, self.batch)
        if rc != 0:
            sys.exit(f"llama_decode returned {rc}")

    def _argmax(self, i):
        # np.argmax returns the first maximum, as edgereason's greedy sampler and llama.cpp's.
        ptr = self.L.llama_get_logits_ith(self.ctx, i)
        return int(self.np.argmax(self.np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))))

    def run_pp(self, prompt):
        """Prompt processing; returns the timed ns."""
        b = self.batch
        n = len(prompt)
        self._clear()
        t0 = time.perf_counter_ns()
        for start in range(0, n, self.n_batch):
            m = min(self.n_batch, n - start)
            for i in range(m):
                b.token[i] = prompt[start + i]
                b.pos[i] = start + i
                b.seq_id[i][0] = 0
                b.logits[i] = 1 if start + i == n - 1 else 0
            self._decode(m)
        self.L.llama_synchronize(self.ctx)
        return time.perf_counter_ns() - t0

    def run_tg(self, prompt_token, n_gen, n_paths):
        """1-token prompt, fork into n_paths sequences, n_gen batched decode steps (argmax).

        Returns (decode ns, ttft ns, step times in ns since start)."""
        b = self.batch
        self._clear()
        t_start = time.perf_counter_ns()
        b.token[0] = prompt_token
        b.pos[0] = 0
        b.seq_id[0][0] = 0
        b.logits[0] = 1
        self._decode(1)
        for s in range(1, n_paths):
            self._seq_cp(0, s)
        first = self._argmax(0)
        tokens = [first] * n_paths
        t_first = time.perf_counter_ns()
        steps = [t_first]
        for i in range(n_paths):
            b.seq_id[i][0] = i
            b.logits[i] = 1
        for step in range(n_gen):
            pos = 1 + step
            for i in range(n_paths):
                b.token[i] = tokens[i]
                b.pos[i] = pos
            self._decode(n_paths)
            for i in range(n_paths):
                tokens[i] = self._argmax(i)
            steps.append(time.perf_counter_ns())
        t_end = steps[-1]
        return t_end - t_first, t_first - t_start, steps


def summarize(rec, samples_ns, n_tokens, gen):
    ts = [n_tokens / (ns / 1e9) for ns in samples_ns]
    rec["avg_ns"] = int(round(statistics.fmean(samples_ns)))
    rec["stddev_ns"] = int(round(statistics.stdev(samples_ns))) if len(samples_ns) > 1 else 0
    rec["avg_ts"] = statistics.fmean(ts)
    rec["stddev_ts"] = statistics.stdev(ts) if len(ts) > 1 else 0.0
    rec["median_ts"] = statistics.median(ts)
    rec["min_ts"] = min(ts)
    rec["max_ts"] = max(ts)
    rec["samples_ns"] = list(samples_ns)
    rec["samples_ts"] = ts
    if gen:
        ttft = [g[0] / 1e6 for g in gen]
        tpot = [ns / 1e6 / rec["n_gen"] for ns in samples_ns]
        itl = []
        for _, steps in gen:
            itl += [(steps[i] - steps[i - 1]) / 1e6 for i in range(1, len(steps))]
        rec["ttft_ms"] = statistics.median(ttft)
        rec["tpot_ms"] = statistics.median(tpot)
        rec["itl_p50_ms"] = percentile(itl, 50)
        rec["itl_p90_ms"] = percentile(itl, 90)
        rec["itl_p99_ms"] = percentile(itl, 99)
    else:
        for k in ("ttft_ms", "tpot_ms", "itl_p50_ms", "itl_p90_ms", "itl_p99_ms"):
            rec[k] = None


class Printer:
    def __init__(self, fmt):
        self.fmt = fmt
        self.n = 0

    def begin(self):
        if self.fmt == "json":
            sys.stdout.write("[\n")

    def record(self, rec):
        if self.fmt == "json":
            body = json.dumps(rec, indent=2)
            sys.stdout.write(("" if self.n == 0 else ",\n") + body)
        else:
            sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()
        self.n += 1

    def end(self):
        if self.fmt == "json":
            sys.stdout.write("\n]\n")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True, help="GGUF file or installed name (EDGEREASON_MODELS)")
    ap.add_argument("-p", "--n-prompt", default="512", help="prompt sizes LIST of ppN tests (0 = none)")
    ap.add_argument("-n", "--n-gen", default="128", help="decode steps LIST of tgN tests (0 = none)")
    ap.add_argument("--paths", default="1", help="paths LIST decoded together (tg tests)")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("-b", "--batch-size", type=int, default=512, help="n_batch = n_ubatch")
    ap.add_argument("--kv-unified", action="store_true", help="one KV buffer shared by all sequences")
    ap.add_argument("-o", "--output", choices=["json", "jsonl"], default="json")
    args = ap.parse_args()
    if args.repetitions < 1 or args.warmup < 0 or args.threads < 1 or args.batch_size < 1:
        sys.exit("-r >= 1, --warmup >= 0, -t >= 1, -b >= 1")

    pp = [n for n in parse_list(args.n_prompt, "-p") if n > 0]
    tg = [n for n in parse_list(args.n_gen, "-n") if n > 0]
    paths = parse_list(args.paths, "--paths")
    if not pp and not tg:
        sys.exit("-p/-n: nothing to run (every test size is 0)")
    if any(p < 1 or p > 64 for p in paths):
        sys.exit(f"--paths '{args.paths}': each in [1, 64]")
    model_path = resolve_model(args.model)

    import numpy as np
    import llama_cpp
    from llama_cpp import _logger
    _logger.set_verbose(False)
    rss_imported_kib = vm_kib("VmRSS")

    system_info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    peer = Peer(llama_cpp, np, model_path, args.threads, args.batch_size, args.kv_unified)
    base = {
        "engine": "llama.cpp",
        "version": "llama-cpp-python " + llama_cpp.__version__,
        "build_commit": None,
        "build_version": llama_cpp.__version__,
        "cpu_info": cpu_model(),
        "isa": isa_level(system_info),
        "system_info": system_info,
        "model_filename": model_path,
        "model_type": peer.model_desc,
        "model_size": peer.model_size,
        "model_n_params": peer.model_n_params,
        "n_batch": args.batch_size,
        "n_ubatch": args.batch_size,
        "n_threads": args.threads,
        "type_k": "f16",
        "type_v": "f16",
        "flash_attn": False,
        "kv_unified": bool(args.kv_unified),
        "n_warmup": args.warmup,
        "n_reps": args.repetitions,
    }
    # The same context size rule as edgereason bench, per sequence.
    n_ctx_seq = max(pp + [n + 2 for n in tg]) + 16

    printer = Printer(args.output)
    printer.begin()

    def emit(rec, samples_ns, n_tokens, gen, what):
        summarize(rec, samples_ns, n_tokens, gen)
        rec["peak_rss_bytes"] = (vm_kib("VmHWM") or 0) * 1024
        rec["python_rss_bytes"] = (rss_imported_kib or 0) * 1024
        printer.record(rec)
        print(f"llamacpp_peer: {what}: {rec['median_ts']:.2f} tok/s (median of {len(samples_ns)})",
              file=sys.stderr, flush=True)

    def now_iso():
        return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    for pi, n_paths in enumerate(paths):
        peer.new_context(n_ctx_seq, n_paths)
        if pi == 0:
            for n in pp:
                prompt = random_tokens(n, peer.n_vocab, TOKEN_SEED + n)
                rec = dict(base, n_ctx=peer.n_ctx, n_paths=1, test=f"pp{n}", n_prompt=n, n_gen=0,
                           test_time=now_iso())
                for _ in range(args.warmup):
                    peer.run_pp(prompt)
                samples = [peer.run_pp(prompt) for _ in range(args.repetitions)]
                emit(rec, samples, n, None, f"pp{n} (threads {args.threads}, paths 1)")
        for n in tg:
            tok = random_tokens(1, peer.n_vocab, TOKEN_SEED)[0]
            rec = dict(base, n_ctx=peer.n_ctx, n_paths=n_paths, test=f"tg{n}", n_prompt=0, n_gen=n,
                       test_time=now_iso())
            for _ in range(args.warmup):
                peer.run_tg(tok, n, n_paths)
            samples, gen = [], []
            for _ in range(args.repetitions):
                ns, ttft_ns, steps = peer.run_tg(tok, n, n_paths)
                samples.append(ns)
                gen.append((ttft_ns, steps))
            emit(rec, samples, n_paths * n, gen, f"tg{n} (threads {args.threads}, paths {n_paths})")
    printer.end()
    peer.close()


if __name__ == "__main__":
    main()
