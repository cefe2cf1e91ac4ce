#!/usr/bin/env python3
"""Makes the tokenizer golden files: llama.cpp's token ids and detokenized text for every question
of the evaluation sets plus hand-written edge cases, and llama.cpp-rendered chat templates.

Runs llama.cpp through the PyPI package llama-cpp-python (vocab only; no weights are read). The
package version, each model's sha256 and the command are recorded in every file.

    /root/.cache/edgereason/llamacpp-venv/bin/python tools/make_golden_tokens.py \
        --models models --data ../shared/data --out tests/golden/data/tokenizer

One file per tokenizer, JSON Lines: a header, then one record per string.
  header  {"kind": "header", name, model, model_sha256, overrides, llama_cpp_python, n_vocab, bos,
           eos, eot, add_bos, add_eos, eog, control_count, control_hash, piece_block, piece_hashes}
  edge    {"kind": "edge", "i", "text" | "hex", "ids" (special=True), "plain" (special=False),
           "bos_ids" (add_special=True), "detok" | "detok_hex", "detok_special" | ...}
  data    {"kind": "data", "src", "i", "n", "h", and "ids" for the first strings of each source;
           "dh" only when the detokenized text differs from the input}
Hashes are FNV-1a 64 (hex): over the ids as int32 little-endian bytes, or over text bytes. Token
pieces (llama_token_to_piece, special=True) are hashed per block of `piece_block` ids.
Dataset strings: gsm8k `question`; math500 `problem`; mmlu_stem `question` and the four
`choices`, joined with "\\n". Strings are tokenized with add_special=False.

Tokenizers: the installed models, and "variants" that reuse a model's vocabulary with another
`tokenizer.ggml.pre` (llama-cpp-python's kv_overrides; the C++ test sets the same key) so that
every pre-tokenizer the engine supports is checked on a real vocabulary.
"""
import argparse
import ctypes
import hashlib
import json
import os
import sys


# ---- hand-written edge cases: corners of pre-tokenization, merging and special-token splitting ----
SPECIALS = [
    # ChatML / Qwen / SmolLM2
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|fim_prefix|>", "<|fim_pad|>", "<|file_sep|>",
    "<|repo_name|>", "<tool_call>", "</tool_call>", "<repo_name>", "<reponame>", "<file_sep>",
    # reasoning tags (plain text in these vocabularies, but important to us)
    "<think>", "</think>",
    # Llama 3, DeepSeek R1, Gemma
    "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
    "<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>", "[multimodal]",
    "<unused0>", "<unused99>", "</s>", "<s>",
]

CASES = [
    # --- empty-ish and whitespace ---
    "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", "\n\n\n", " \n", "\n ", " \n ", "\t\t\tx",
    "a  b", "a   b", "a    b", "  leading", "trailing  ", "   both   ", " a", "a ", "\u00a0nbsp\u00a0",
    "ideographic\u3000space", "thin\u2009space", "line\u2028sep", "para\u2029sep", "nel\u0085x",
    "mongolian\u180evowel", "zero\u200bwidth", "x\x0by\x0cz", "fs\x1cgs\x1drs\x1eus\x1f",
    "\n" * 40, " " * 64 + "x", "\t" * 20, " \t \n \r \x0b \x0c ",
    "end with newline\n", "two\n\nparagraphs\n\n\nthree", "\r\r\n\n\r",
    # --- contractions, case ---
    "I'm", "I'M", "you're", "YOU'RE", "we've", "WE'VE", "it's", "IT'S", "don't", "DON'T", "he'll", "HE'LL",
    "she'd", "SHE'D", "'s'S't'T", "rock 'n' roll", "' s", "'''", "O'Neil's", "l'homme", "x'RE y'Ll z'Ve",
    # --- digits ---
    "0", "12", "123", "1234", "12345", "1234567890", "3.14159", "-42", "1,000,000", "1e-10", "0x1F",
    "9" * 100, "1" * 1001, "abc123def", "a1b2c3", "2024-01-31", "12:34:56", "$1,234.56", "50%",
    "\u0661\u0662\u0663", "\u0967\u0968\u0969", "\u2460\u2461", "\u00bd \u00be", "\u2167 roman", "\uff11\uff12\uff13",
    # --- punctuation and symbols ---
    "Hello, world!", "Wait... what?!", "a,b;c:d", "(x)[y]{z}", "a+b=c", "x^2 + y^2 = z^2", "~/path/to/file",
    "a|b", "#hashtag", "@user", "foo@bar.com", "https://example.com/a?b=c&d=e#f", "<html><body>hi</body></html>",
    "<<>>", "<|>", "<|", "|>", "!!!???...", "\u2014em\u2013dash", "\u201cquoted\u201d \u2018single\u2019",
    "\u00ab\u00bb", "\u00a9\u00ae\u2122", "\u20ac100 \u00a3 \u00a5", "\\boxed{42}", "$\\frac{1}{2}$",
    "\\int_0^1 x^2 \\, dx", "a_{i,j} = b^{k}", "f(x) = 3x^2 - 2x + 1", "\u2200x \u2208 \u211d, x\u00b2 \u2265 0",
    # --- code ---
    "def f(x):\n    return x * 2\n", "if (a && b) { return; }", "for i in range(10):\n\tprint(i)",
    "    indented four", "        indented eight", "int main() {\n  return 0;\n}\n", "x = [1, 2, 3]  # comment",
    "SELECT * FROM t WHERE a = 'b';", "a->b->c", "x != y && y <= z", "#include <stdio.h>",
    "```python\nprint('hi')\n```", "{\"key\": \"value\", \"n\": 1}",
    # --- scripts ---
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5", "\ud55c\uad6d\uc5b4 \ud14c\uc2a4\ud2b8",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5",
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
    "\u1000\u1019\u1039\u1018\u102c", "\u12a0\u121b\u122d\u129b", "Stra\u00dfe \u00fcber \u00e9t\u00e9",
    "mixed \u4e2d\u6587 and English", "\u0130stanbul \u0131s\u0131k",
    # --- combining marks, ZWJ, emoji ---
    "e\u0301", "n\u0303o\u0308", "a\u0300\u0301\u0302\u0303", "\u0915\u094d\u200d\u0937", "Z\u0351\u036b\u0343a\u0352lgo",
    "\U0001f44d", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f1fa\U0001f1f8",
    "\u2764\ufe0f", "I \u2764\ufe0f NY \U0001f5fd", "\U0001f600\U0001f601\U0001f602", "\U0001fae8", "a\U0001f600b",
    "\U00020000\U0002a6d6", "\U0001d400\U0001d41a math bold", "\U00010348 gothic",
    "\ufeffBOM at start", "soft\u00adhyphen", "\ufffd replacement",
    # --- long inputs ---
    "a" * 3000, "ab" * 1500, "Supercalifragilisticexpialidocious" * 20, "word " * 400,
    "\u4e2d" * 500, "\U0001f600" * 200, "- " * 300, "=" * 500, ".\n" * 200,
    # --- special tokens inside text ---
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n",
    "text<|im_end|>text", "<|im_end|><|im_end|>", "<|im_start|<|im_end|>", "<<|im_end|>>", "<|im_end", "|im_end|>",
    " <|im_start|> spaced ", "<|endoftext|>", "before<|endoftext|>after", "<think>\nreasoning here\n</think>\n\nanswer",
    "<think></think>", "</think>", "<think>", "Okay, I think I have finished thinking.\n</think>\n\n",
    "\n</think>\n\n**Final Answer:** \\boxed{", "<tool_call>{\"a\":1}</tool_call>",
    "<\uff5cbegin\u2581of\u2581sentence\uff5c>sys<\uff5cUser\uff5c>q<\uff5cAssistant\uff5c><think>\n",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<bos><start_of_turn>user\nhello<end_of_turn>\n<start_of_turn>model\n", "<pad><eos><unk><mask>",
    "[multimodal] <unused0> <unused99>", "</s><s>", "<reponame>x<file_sep>y", "<repo_name>a<|repo_name|>b",
    "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>", "<|fim_pad|>", "<|file_sep|>",
] + ["x" + s + "y" for s in SPECIALS] + [s + " " + s for s in SPECIALS[:12]]

# Inputs that are not valid UTF-8: llama.cpp replaces each bad byte with U+FFFD (BPE) or keeps
# the bytes (SPM, byte fallback).
BYTE_CASES = [
    b"abc\xff\xfedef", b"\xc3(", b"\xe2\x82", b"x\xe2\x82\xacy", b"\x80\x81\x82", b"\xf0\x9f\x98",
    b"tail\xe2", b"\xc0\x80 overlong", b"\xed\xa0\x80 surrogate", b"\xf8\x88\x80\x80\x80",
]

# name, model file stem, kv overrides
TOKENIZERS = [
    ("smollm2", "smollm2", {}),
    ("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b", {}),
    ("gemma3-270m", "gemma3-270m", {}),
    ("deepseek-r1-qwen", "qwen2.5-coder-1.5b", {"tokenizer.ggml.pre": "deepseek-r1-qwen"}),
    ("llama-bpe", "qwen2.5-coder-1.5b", {"tokenizer.ggml.pre": "llama-bpe"}),
    ("smollm2-default-pre", "smollm2", {"tokenizer.ggml.pre": "default"}),
]
IDS_PER_SOURCE = 70  # dataset strings per source stored with their full ids
PIECE_BLOCK = 4096
CHAT_MODELS = ["smollm2", "qwen2.5-coder-1.5b"]


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def ids_hash(ids) -> str:
    return fnv1a64(b"".join(int(i).to_bytes(4, "little", signed=True) for i in ids))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dataset_strings(data_dir):
    """(source, index, text) for every question, in file order."""
    out = []
    for src, make in (("gsm8k", lambda r: r["question"]), ("math500", lambda r: r["problem"]),
                      ("mmlu_stem", lambda r: "\n".join([r["question"]] + list(r["choices"])))):
        with open(os.path.join(data_dir, src, "test.jsonl"), encoding="utf-8") as f:
            for i, line in enumerate(f):
                out.append((src, i, make(json.loads(line))))
    return out


def text_field(key, data: bytes):
    """{key: text} when `data` is valid UTF-8, else {key + "_hex": hex}."""
    try:
        return {key: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {key + "_hex": data.hex()}


class Vocab:
    def __init__(self, path, overrides):
        import llama_cpp
        self.lc = llama_cpp
        kw = {"kv_overrides": overrides} if overrides else {}
        self.llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False, **kw)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.n = llama_cpp.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, data: bytes, add_special=False, special=True):
        return self.llm.tokenize(data, add_bos=add_special, special=special)

    def detokenize(self, ids, special=False) -> bytes:
        arr = (self.lc.llama_token * max(1, len(ids)))(*ids)
        size = 4 * len(ids) + 64
        while True:
            buf = ctypes.create_string_buffer(size)
            r = self.lc.llama_detokenize(self.vocab, arr, len(ids), buf, size, False, special)
            if r >= 0:
                return buf.raw[:r]
            size = -r + 16

    def piece(self, tid) -> bytes:
        size = 256
        while True:
            buf = ctypes.create_string_buffer(size)
            r = self.lc.llama_token_to_piece(self.vocab, tid, buf, size, 0, True)
            if r >= 0:
                return buf.raw[:r]
            size = -r + 16

    def header(self):
        lc, v = self.lc, self.vocab
        tok = lambda x: int(x) if int(x) >= 0 else -1  # noqa: E731
        control = [i for i in range(self.n) if lc.llama_vocab_is_control(v, i)]
        pieces = []
        for start in range(0, self.n, PIECE_BLOCK):
            blob = b"".join(len(p).to_bytes(4, "little") + p
                            for p in (self.piece(i) for i in range(start, min(self.n, start + PIECE_BLOCK))))
            pieces.append(fnv1a64(blob))
        return {
            "n_vocab": self.n, "bos": tok(lc.llama_vocab_bos(v)), "eos": tok(lc.llama_vocab_eos(v)),
            "eot": tok(lc.llama_vocab_eot(v)), "add_bos": bool(lc.llama_vocab_get_add_bos(v)),
            "add_eos": bool(lc.llama_vocab_get_add_eos(v)),
            "eog": [i for i in range(self.n) if lc.llama_vocab_is_eog(v, i)],
            "control_count": len(control), "control_hash": ids_hash(control),
            "piece_block": PIECE_BLOCK, "piece_hashes": pieces,
        }


def make_tokenizer_file(name, path, overrides, strings, out_dir, command, version):
    vocab = Vocab(path, overrides)
    header = {"kind": "header", "name": name, "model": os.path.splitext(os.path.basename(path))[0],
              "model_sha256": sha256_file(path), "overrides": overrides, "llama_cpp_python": version,
              "command": command, **vocab.header()}
    lines = [header]
    cases = [c.encode("utf-8") for c in CASES] + list(BYTE_CASES)
    for i, data in enumerate(cases):
        ids = vocab.tokenize(data)
        rec = {"kind": "edge", "i": i, **text_field("text", data), "ids": ids,
               "plain": vocab.tokenize(data, special=False),
               "bos_ids": vocab.tokenize(data, add_special=True),
               **text_field("detok", vocab.detokenize(ids)),
               **text_field("detok_special", vocab.detokenize(ids, special=True))}
        lines.append(rec)
    seen = {}
    for src, i, text in strings:
        data = text.encode("utf-8")
        ids = vocab.tokenize(data)
        rec = {"kind": "data", "src": src, "i": i, "n": len(ids), "h": ids_hash(ids)}
        if seen.get(src, 0) < IDS_PER_SOURCE:
            rec["ids"] = ids
        seen[src] = seen.get(src, 0) + 1
        detok = vocab.detokenize(ids)
        if detok != data:
            rec["dh"] = fnv1a64(detok)
        lines.append(rec)
    out = os.path.join(out_dir, name + ".jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for rec in lines:
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    n_tokens = sum(r.get("n", len(r.get("ids", []))) for r in lines[1:])
    print(f"{out}: {len(cases)} edge cases, {len(strings)} dataset strings, {n_tokens} tokens, "
          f"{os.path.getsize(out)} bytes", file=sys.stderr)


CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are a math tutor."}, {"role": "user", "content": "Solve x+1=3."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Tell me a joke."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q1"},
     {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}],
    [{"role": "user", "content": "  spaces around  \n"}],
    [{"role": "user", "content": "Line one\nLine two\n\nPlease reason step by step, and put your final "
                                 "answer within \\boxed{}."}],
]


def make_chat_file(models_dir, out_dir, command, version):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    records = []
    for stem in CHAT_MODELS:
        path = os.path.join(models_dir, stem + ".gguf")
        if not os.path.exists(path):
            continue
        vocab = Vocab(path, {})
        template = vocab.llm.metadata.get("tokenizer.chat_template")
        if not template:
            continue
        tmpl = env.from_string(template)
        for conv in CONVERSATIONS:
            for gen in (True, False):
                text = tmpl.render(messages=conv, add_generation_prompt=gen, bos_token="", eos_token="")
                records.append({"model": stem, "messages": conv, "add_generation_prompt": gen, "text": text})
    out = os.path.join(out_dir, "chat_templates.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"llama_cpp_python": version, "jinja2": jinja2.__version__, "command": command,
                   "renders": records}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{out}: {len(records)} renders", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="models", help="directory of installed NAME.gguf files")
    ap.add_argument("--data", default="../shared/data", help="directory with gsm8k/, math500/, mmlu_stem/")
    ap.add_argument("--out", default="tests/golden/data/tokenizer")
    ap.add_argument("--only", nargs="*", help="tokenizer names to make (default: all installed)")
    args = ap.parse_args()

    import llama_cpp
    version = llama_cpp.__version__
    command = "tools/make_golden_tokens.py " + " ".join(sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    strings = dataset_strings(args.data)
    for name, stem, overrides in TOKENIZERS:
        if args.only and name not in args.only:
            continue
        path = os.path.join(args.models, stem + ".gguf")
        if not os.path.exists(path):
            print(f"skipping {name}: {path} not installed", file=sys.stderr)
            continue
        make_tokenizer_file(name, path, overrides, strings, args.out, command, version)
    if not args.only:
        make_chat_file(args.models, args.out, command, version)


if __name__ == "__main__":
    main()
