// Golden test: our tokenizer against llama.cpp (tools/make_golden_tokens.py) on every evaluation
// question plus hand-written edge cases, and chat rendering against the models' Jinja templates.
#include <gtest/gtest.h>

#include <cstdlib>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf.h"
#include "support/test_support.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace er::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path golden_dir() { return test::source_dir() / "tests/golden/data/tokenizer"; }

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}
std::string hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
std::string ids_hash(const std::vector<TokenId>& ids) {
  std::string bytes;
  for (const TokenId id : ids) {
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((static_cast<uint32_t>(id) >> (8 * k)) & 0xFF));
  }
  return hex64(fnv1a64(bytes));
}
std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}
// A record's text field that may be stored as "KEY" (UTF-8) or "KEY_hex".
std::string text_field(const json& rec, const std::string& key) {
  if (rec.contains(key)) return rec[key].get<std::string>();
  return from_hex(rec.at(key + "_hex").get<std::string>());
}
std::string show(const std::vector<TokenId>& ids, size_t from = 0, size_t n = 24) {
  std::ostringstream os;
  os << "[";
  for (size_t i = from; i < ids.size() && i < from + n; ++i) os << (i > from ? " " : "") << ids[i];
  if (ids.size() > from + n) os << " ...";
  os << "] (" << ids.size() << " ids)";
  return os.str();
}
std::string snippet(std::string_view text) {
  std::string s(text.substr(0, 120));
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

// The dataset strings the generator tokenized, keyed by (source, line index).
std::map<std::pair<std::string, int>, std::string> dataset_strings() {
  std::map<std::pair<std::string, int>, std::string> out;
  const fs::path data = test::data_dir();
  for (const std::string src : {"gsm8k", "math500", "mmlu_stem"}) {
    std::ifstream in(data / src / "test.jsonl");
    int i = 0;
    for (std::string line; std::getline(in, line); ++i) {
      const json r = json::parse(line);
      std::string text;
      if (src == "gsm8k") {
        text = r.at("question").get<std::string>();
      } else if (src == "math500") {
        text = r.at("problem").get<std::string>();
      } else {
        text = r.at("question").get<std::string>();
        for (const auto& c : r.at("choices")) {
          text += '\n';
          text += c.get<std::string>();
        }
      }
      out[{src, i}] = std::move(text);
    }
  }
  return out;
}

// Counts mismatches of one kind and keeps the first few descriptions.
struct Tally {
  explicit Tally(std::string w) : what(std::move(w)) {}
  std::string what;
  int checked = 0;
  int mismatches = 0;
  std::vector<std::string> first;
  void check(bool ok, const std::function<std::string()>& describe) {
    ++checked;
    if (ok) return;
    if (++mismatches <= 5) first.push_back(describe());
  }
  void report() const {
    std::printf("[tokenizer golden] %-28s %6d checked, %d mismatches\n", what.c_str(), checked, mismatches);
    for (const auto& d : first) ADD_FAILURE() << what << ": " << d;
    EXPECT_EQ(mismatches, 0) << what;
  }
};

std::string describe_ids(const std::string& text, const std::vector<TokenId>& want, const std::vector<TokenId>& got) {
  size_t at = 0;
  while (at < want.size() && at < got.size() && want[at] == got[at]) ++at;
  const size_t from = at > 4 ? at - 4 : 0;
  return "text " + snippet(text) + ": first difference at id " + std::to_string(at) + ", llama.cpp " +
         show(want, from) + " vs ours " + show(got, from);
}

void run_golden(const fs::path& model, const std::string& name) {
  std::ifstream in(golden_dir() / (name + ".jsonl"));
  ASSERT_TRUE(in) << "missing golden file for " << name;
  std::string line;
  std::getline(in, line);
  const json header = json::parse(line);

  // The golden file must have been made from the model installed here.
  fs::path stamp = model.parent_path();
  stamp /= std::string(".") += model.filename().string() += ".stamp";
  if (std::ifstream s(stamp); s) {
    std::string size, mtime, sha;
    s >> size >> mtime >> sha;
    ASSERT_EQ(sha, header.at("model_sha256").get<std::string>()) << "golden file made from another " << model;
  }

  auto file = gguf::File::open(model.string());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  gguf::Metadata md = file->metadata();
  for (const auto& [key, value] : header.at("overrides").items()) {
    if (value.is_string()) md.set(key, gguf::Value::string(value.get<std::string>()));
    else if (value.is_boolean()) md.set(key, gguf::Value::boolean(value.get<bool>()));
    else md.set(key, gguf::Value::i64(value.get<int64_t>()));
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto tok_or = Tokenizer::from_gguf(md);
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(tok_or.is_ok()) << tok_or.status().message();
  const Tokenizer& tok = *tok_or;

  // Vocabulary facts.
  EXPECT_EQ(tok.n_vocab(), header.at("n_vocab").get<int>());
  EXPECT_EQ(tok.bos(), header.at("bos").get<int>());
  EXPECT_EQ(tok.eos(), header.at("eos").get<int>());
  EXPECT_EQ(tok.eot(), header.at("eot").get<int>());
  EXPECT_EQ(tok.add_bos(), header.at("add_bos").get<bool>());
  EXPECT_EQ(tok.add_eos(), header.at("add_eos").get<bool>());
  EXPECT_EQ(tok.eog_ids(), header.at("eog").get<std::vector<TokenId>>());
  std::vector<TokenId> control;
  for (TokenId id = 0; id < tok.n_vocab(); ++id) {
    if (tok.is_control(id)) control.push_back(id);
  }
  EXPECT_EQ(static_cast<int>(control.size()), header.at("control_count").get<int>());
  EXPECT_EQ(ids_hash(control), header.at("control_hash").get<std::string>());
  Tally pieces{"pieces (blocks)"};
  const int block = header.at("piece_block").get<int>();
  const auto& piece_hashes = header.at("piece_hashes");
  for (size_t b = 0; b < piece_hashes.size(); ++b) {
    std::string blob;
    for (TokenId id = static_cast<TokenId>(b) * block; id < std::min<TokenId>(tok.n_vocab(), (b + 1) * block); ++id) {
      const std::string& p = tok.piece(id);
      for (int k = 0; k < 4; ++k) blob.push_back(static_cast<char>((p.size() >> (8 * k)) & 0xFF));
      blob += p;
    }
    pieces.check(hex64(fnv1a64(blob)) == piece_hashes[b].get<std::string>(),
                 [&] { return "block " + std::to_string(b) + " (ids from " + std::to_string(b * block) + ")"; });
  }

  Tally edge_ids{"edge ids (special)"}, edge_plain{"edge ids (no special)"}, edge_bos{"edge ids (add_special)"};
  Tally edge_detok{"edge decode"}, edge_detok_special{"edge decode (render special)"};
  Tally data_ids{"dataset ids"}, data_detok{"dataset decode"};
  const auto strings = dataset_strings();
  size_t bytes = 0;
  double encode_s = 0;
  while (std::getline(in, line)) {
    const json rec = json::parse(line);
    if (rec.at("kind") == "edge") {
      const std::string text = text_field(rec, "text");
      const auto want = rec.at("ids").get<std::vector<TokenId>>();
      const auto got = tok.encode(text, false, true);
      edge_ids.check(got == want, [&] { return describe_ids(text, want, got); });
      const auto want_plain = rec.at("plain").get<std::vector<TokenId>>();
      const auto got_plain = tok.encode(text, false, false);
      edge_plain.check(got_plain == want_plain, [&] { return describe_ids(text, want_plain, got_plain); });
      const auto want_bos = rec.at("bos_ids").get<std::vector<TokenId>>();
      const auto got_bos = tok.encode(text, true, true);
      edge_bos.check(got_bos == want_bos, [&] { return describe_ids(text, want_bos, got_bos); });
      const std::string d = tok.decode(want), want_d = text_field(rec, "detok");
      edge_detok.check(d == want_d, [&] { return "ids " + show(want) + ": llama.cpp " + snippet(want_d) + " vs ours " + snippet(d); });
      const std::string ds = tok.decode(want, true), want_ds = text_field(rec, "detok_special");
      edge_detok_special.check(ds == want_ds,
                               [&] { return "ids " + show(want) + ": llama.cpp " + snippet(want_ds) + " vs ours " + snippet(ds); });
      continue;
    }
    const auto it = strings.find({rec.at("src").get<std::string>(), rec.at("i").get<int>()});
    ASSERT_NE(it, strings.end()) << "dataset string missing from " << test::data_dir() << ": " << line;
    const std::string& text = it->second;
    const auto a = std::chrono::steady_clock::now();
    const auto got = tok.encode(text, false, true);
    encode_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    bytes += text.size();
    const bool same = static_cast<int>(got.size()) == rec.at("n").get<int>() && ids_hash(got) == rec.at("h").get<std::string>() &&
                      (!rec.contains("ids") || rec["ids"].get<std::vector<TokenId>>() == got);
    data_ids.check(same, [&] {
      std::string d = rec.at("src").get<std::string>() + "#" + std::to_string(rec.at("i").get<int>()) + " ";
      if (rec.contains("ids")) return d + describe_ids(text, rec["ids"].get<std::vector<TokenId>>(), got);
      return d + "text " + snippet(text) + ": llama.cpp " + std::to_string(rec.at("n").get<int>()) + " ids hash " +
             rec.at("h").get<std::string>() + " vs ours " + show(got);
    });
    const std::string d = tok.decode(got);
    const bool rt = rec.contains("dh") ? hex64(fnv1a64(d)) == rec["dh"].get<std::string>() : d == text;
    data_detok.check(rt, [&] { return "text " + snippet(text) + " decoded as " + snippet(d); });
  }
  std::printf("[tokenizer golden] %s: load %.0f ms, encode %.2f MB/s over %zu dataset bytes\n", name.c_str(), load_ms,
              bytes / std::max(encode_s, 1e-9) / 1e6, bytes);
  // The rate is reported, not asserted: timings here vary with the machine's load (a 1 MB/s floor
  // failed CI on a busy 2-core runner); the line above reports it.
  for (const Tally* t : {&pieces, &edge_ids, &edge_plain, &edge_bos, &edge_detok, &edge_detok_special, &data_ids, &data_detok}) {
    t->report();
  }
  EXPECT_GE(edge_ids.checked, 150);
  EXPECT_GE(data_ids.checked, 2000);
}

TEST(TokenizerGolden, Smollm2) {
  ER_REQUIRE_MODEL(model, "smollm2");
  run_golden(model, "smollm2");
}
TEST(TokenizerGolden, Smollm2DefaultPre) {
  ER_REQUIRE_MODEL(model, "smollm2");
  run_golden(model, "smollm2-default-pre");
}
TEST(TokenizerGolden, Qwen25Coder) {
  ER_REQUIRE_MODEL(model, "qwen2.5-coder-1.5b");
  run_golden(model, "qwen2.5-coder-1.5b");
}
TEST(TokenizerGolden, DeepSeekR1QwenPre) {
  ER_REQUIRE_MODEL(model, "qwen2.5-coder-1.5b");
  run_golden(model, "deepseek-r1-qwen");
}
TEST(TokenizerGolden, LlamaBpePre) {
  ER_REQUIRE_MODEL(model, "qwen2.5-coder-1.5b");
  run_golden(model, "llama-bpe");
}
// Qwen2.5-Coder-0.5B ships the 1.5B's tokenizer (docs/models.md): the same vocabulary, merges,
// token types, pre-tokenizer and special tokens, so Qwen25Coder's golden file covers it too.
TEST(TokenizerGolden, Qwen25Coder05bHasThe15bTokenizer) {
  ER_REQUIRE_MODEL(small, "qwen2.5-coder-0.5b");
  ER_REQUIRE_MODEL(large, "qwen2.5-coder-1.5b");
  auto a = gguf::File::open(small.string());
  auto b = gguf::File::open(large.string());
  ASSERT_TRUE(a.is_ok()) << a.status().message();
  ASSERT_TRUE(b.is_ok()) << b.status().message();
  for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"}) {
    auto x = a->metadata().get_string_array(key), y = b->metadata().get_string_array(key);
    ASSERT_TRUE(x.is_ok() && y.is_ok()) << key;
    EXPECT_GT(x->size(), 150000u) << key;
    EXPECT_TRUE(*x == *y) << key << " differs";
  }
  for (const char* key : {"tokenizer.ggml.token_type"}) {
    auto x = a->metadata().get_int_array(key), y = b->metadata().get_int_array(key);
    ASSERT_TRUE(x.is_ok() && y.is_ok()) << key;
    EXPECT_TRUE(*x == *y) << key << " differs";
  }
  for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre"}) {
    EXPECT_EQ(*a->metadata().get_string(key), *b->metadata().get_string(key)) << key;
  }
  for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"}) {
    EXPECT_EQ(*a->metadata().get_int(key), *b->metadata().get_int(key)) << key;
  }
  EXPECT_EQ(*a->metadata().get_bool("tokenizer.ggml.add_bos_token"), *b->metadata().get_bool("tokenizer.ggml.add_bos_token"));
}
TEST(TokenizerGolden, Gemma3Spm) {
  ER_REQUIRE_MODEL(model, "gemma3-270m");
  run_golden(model, "gemma3-270m");
}

// Chat rendering against the Jinja rendering of each model's own template.
void run_chat_golden(const fs::path& model, const std::string& name) {
  std::ifstream in(golden_dir() / "chat_templates.json");
  ASSERT_TRUE(in);
  const json golden = json::parse(in);
  auto file = gguf::File::open(model.string());
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  const ChatTemplate ct = chat_template_from_gguf(file->metadata());
  int checked = 0;
  for (const auto& r : golden.at("renders")) {
    if (r.at("model") != name) continue;
    std::vector<ChatMessage> msgs;
    for (const auto& m : r.at("messages")) msgs.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    ChatOptions opt;
    opt.add_generation_prompt = r.at("add_generation_prompt").get<bool>();
    opt.default_system = ct.default_system;
    EXPECT_EQ(render_chat(ct.family, msgs, opt), r.at("text").get<std::string>()) << r.dump();
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST(ChatTemplateGolden, Smollm2) {
  ER_REQUIRE_MODEL(model, "smollm2");
  run_chat_golden(model, "smollm2");
}
TEST(ChatTemplateGolden, Qwen25Coder) {
  ER_REQUIRE_MODEL(model, "qwen2.5-coder-1.5b");
  run_chat_golden(model, "qwen2.5-coder-1.5b");
}
// The 0.5B's template differs from the 1.5B's only in the tool-call instructions (which these
// renders do not reach): the same renders hold.
TEST(ChatTemplateGolden, Qwen25Coder05b) {
  ER_REQUIRE_MODEL(model, "qwen2.5-coder-0.5b");
  run_chat_golden(model, "qwen2.5-coder-1.5b");
}

}  // namespace
}  // namespace er::tokenizer
