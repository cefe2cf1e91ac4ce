// Tokenizer::from_gguf: reads the vocabulary, attributes and special ids as llama_vocab::load does.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace er::tokenizer {
namespace {

constexpr std::string_view kKeyModel = "tokenizer.ggml.model";
constexpr std::string_view kKeyPre = "tokenizer.ggml.pre";
constexpr std::string_view kKeyTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kKeyMerges = "tokenizer.ggml.merges";
constexpr std::string_view kKeyScores = "tokenizer.ggml.scores";
constexpr std::string_view kKeyTokenType = "tokenizer.ggml.token_type";

// GGUF token_type values (llama_token_type) → attribute bits.
uint32_t attr_from_type(int64_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

bool in(std::string_view s, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// Token texts llama.cpp recognizes by name (llama_vocab::impl::load).
const std::initializer_list<std::string_view> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<end_of_utterance>"};
const std::initializer_list<std::string_view> kEogTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~["};
const std::initializer_list<std::string_view> kFimPreTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
    "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"};
const std::initializer_list<std::string_view> kFimSufTexts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"};
const std::initializer_list<std::string_view> kFimMidTexts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
    "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"};
const std::initializer_list<std::string_view> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
const std::initializer_list<std::string_view> kFimRepTexts = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                                              "<reponame>"};
const std::initializer_list<std::string_view> kFimSepTexts = {"<|file_sep|>"};

// An optional token-id key: the id when present and in range, else `fallback`.
Result<TokenId> read_id(const gguf::Metadata& md, std::string_view key, TokenId fallback, int32_t n_vocab) {
  const gguf::Value* v = md.find(key);
  if (v == nullptr) return fallback;
  const std::optional<int64_t> id = v->to_int();
  if (!id) return Status::invalid("metadata key '" + std::string(key) + "': expected an integer token id");
  if (*id < 0 || *id >= n_vocab) return fallback;  // llama.cpp keeps the default for bad ids
  return static_cast<TokenId>(*id);
}

Result<std::optional<bool>> read_flag(const gguf::Metadata& md, std::string_view key) {
  if (!md.contains(key)) return std::optional<bool>{};
  ER_ASSIGN_OR_RETURN(const bool b, md.get_bool(key));
  return std::optional<bool>{b};
}

// Special-token ids, defaults and name-based detection (llama_vocab::impl::load, "special tokens").
Status load_special_ids(TokenizerImpl& t, const StringIdMap& token_to_id, const gguf::Metadata& md) {
  const int32_t n = t.n_vocab();
  const auto dflt = [n](TokenId id) { return id >= n ? kNoToken : id; };
  if (t.type == VocabType::kBpe) {
    t.bos = dflt(11);
    t.eos = dflt(11);
  } else {
    t.bos = dflt(1);
    t.eos = dflt(2);
    t.unk = dflt(0);
  }
  struct Slot {
    std::string_view key;
    TokenId* id;
  };
  const Slot slots[] = {
      {"tokenizer.ggml.bos_token_id", &t.bos},         {"tokenizer.ggml.eos_token_id", &t.eos},
      {"tokenizer.ggml.eot_token_id", &t.eot},         {"tokenizer.ggml.eom_token_id", &t.eom},
      {"tokenizer.ggml.unknown_token_id", &t.unk},     {"tokenizer.ggml.seperator_token_id", &t.sep},
      {"tokenizer.ggml.padding_token_id", &t.pad},     {"tokenizer.ggml.mask_token_id", &t.mask},
      {"tokenizer.ggml.fim_pre_token_id", &t.fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &t.fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &t.fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &t.fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &t.fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &t.fim_sep},
      {"tokenizer.ggml.prefix_token_id", &t.fim_pre},  {"tokenizer.ggml.suffix_token_id", &t.fim_suf},
      {"tokenizer.ggml.middle_token_id", &t.fim_mid},
  };
  for (const Slot& s : slots) {
    ER_ASSIGN_OR_RETURN(*s.id, read_id(md, s.key, *s.id, n));
  }

  ER_ASSIGN_OR_RETURN(const auto add_bos, read_flag(md, "tokenizer.ggml.add_bos_token"));
  ER_ASSIGN_OR_RETURN(const auto add_eos, read_flag(md, "tokenizer.ggml.add_eos_token"));
  if (add_bos) t.add_bos = *add_bos;
  if (add_eos) t.add_eos = *add_eos;
  if (t.add_bos && t.bos == kNoToken) {
    return Status::invalid("tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
  }
  if (t.add_eos && t.eos == kNoToken) {
    return Status::invalid("tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
  }

  // Detection by text walks the token map in llama.cpp's order (the first hit wins).
  const auto mark_control = [&](int32_t id) { t.attrs[static_cast<size_t>(id)] |= kAttrControl; };
  const auto detect = [&](TokenId& slot, std::string_view text, int32_t id,
                          std::initializer_list<std::string_view> names) {
    if (slot == kNoToken && in(text, names)) {
      slot = id;
      mark_control(id);
    }
  };
  for (const auto& [text, id] : token_to_id) {
    detect(t.eot, text, id, kEotTexts);
    detect(t.eom, text, id, {"<|eom_id|>"});
    detect(t.fim_pre, text, id, kFimPreTexts);
    detect(t.fim_suf, text, id, kFimSufTexts);
    detect(t.fim_mid, text, id, kFimMidTexts);
    detect(t.fim_pad, text, id, kFimPadTexts);
    detect(t.fim_rep, text, id, kFimRepTexts);
    detect(t.fim_sep, text, id, kFimSepTexts);
  }
  // Control tokens named "unused..." are unused.
  for (int32_t id = 0; id < n; ++id) {
    uint32_t& a = t.attrs[static_cast<size_t>(id)];
    if ((a & kAttrControl) && t.texts[static_cast<size_t>(id)].find("unused") != std::string::npos) a |= kAttrUnused;
  }

  // End-of-generation set.
  std::vector<TokenId> eog;
  for (const TokenId id : {t.fim_pad, t.fim_rep, t.fim_sep}) {
    if (id != kNoToken) eog.push_back(id);
  }
  for (const auto& [text, id] : token_to_id) {
    if (in(text, kEogTexts)) {
      eog.push_back(id);
      mark_control(id);
    }
  }
  // gpt-oss: these are always rendered.
  for (const std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    if (const TokenId id = t.lookup(text); id != kNoToken) t.attrs[static_cast<size_t>(id)] = kAttrUserDefined;
  }
  for (const TokenId id : {t.eos, t.eot, t.eom}) {
    if (id != kNoToken) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  const auto has_eog = [&](std::string_view text) {
    const TokenId id = t.lookup(text);
    return id != kNoToken && std::binary_search(eog.begin(), eog.end(), id) ? id : kNoToken;
  };
  const auto drop_eog = [&](TokenId id, uint32_t new_attr) {
    eog.erase(std::find(eog.begin(), eog.end(), id));
    t.attrs[static_cast<size_t>(id)] = new_attr;
  };
  // o200k_harmony / solar-open: "<|end|>" is not an end of generation there.
  const bool has_call = has_eog("<|call|>") != kNoToken || has_eog("<|calls|>") != kNoToken;
  if (const TokenId end = has_eog("<|end|>");
      end != kNoToken && has_call && (has_eog("<|return|>") != kNoToken || has_eog("<|flush|>") != kNoToken)) {
    drop_eog(end, kAttrUserDefined);
  }
  // gemma4 / paddleocr: "</s>" is not an end of generation when "<|tool_response>" is one.
  if (const TokenId s = has_eog("</s>"); s != kNoToken && has_eog("<|tool_response>") != kNoToken) {
    drop_eog(s, kAttrNormal);
  }
  t.eog = std::move(eog);
  return Status::ok();
}

}  // namespace

void SpecialTrie::insert(std::string_view text, int32_t rank) {
  if (text.empty()) return;
  first_byte[static_cast<uint8_t>(text[0])] = true;
  int32_t node = 0;
  for (const char c : text) {
    int32_t next = child(node, static_cast<uint8_t>(c));
    if (next < 0) {
      next = static_cast<int32_t>(nodes.size());
      nodes[static_cast<size_t>(node)].next.emplace_back(static_cast<uint8_t>(c), next);
      nodes.emplace_back();
    }
    node = next;
  }
  if (nodes[static_cast<size_t>(node)].rank < 0) nodes[static_cast<size_t>(node)].rank = rank;
}

int32_t SpecialTrie::child(int32_t node, uint8_t b) const {
  for (const auto& [byte, next] : nodes[static_cast<size_t>(node)].next) {
    if (byte == b) return next;
  }
  return -1;
}

Result<Tokenizer> Tokenizer::from_gguf(const gguf::Metadata& md) {
  auto t = std::make_shared<TokenizerImpl>();
  ER_ASSIGN_OR_RETURN(const std::string model, md.get_string(kKeyModel));
  ER_ASSIGN_OR_RETURN(const std::string pre, md.get_string_or(kKeyPre, ""));
  t->pre = pre.empty() ? "default" : pre;
  if (model == "gpt2") {
    t->type = VocabType::kBpe;
    const auto spec = find_pre_tokenizer(pre);
    if (!spec) return Status::unsupported("metadata key '" + std::string(kKeyPre) + "': unsupported pre-tokenizer '" + pre + "'");
    t->pre_spec = *spec;
    ER_ASSIGN_OR_RETURN(t->pre_tokenizer, PreTokenizer::create(spec->regexes));
    t->clean_spaces = spec->clean_spaces;
    t->ignore_merges = spec->ignore_merges;
    t->add_bos = spec->add_bos_default;
    t->add_space_prefix = false;
  } else if (model == "llama") {
    t->type = VocabType::kSpm;
    t->clean_spaces = false;
    t->add_bos = true;
    t->add_space_prefix = true;
  } else {
    return Status::unsupported("metadata key '" + std::string(kKeyModel) + "': unsupported tokenizer model '" + model + "'");
  }
  ER_ASSIGN_OR_RETURN(const auto add_prefix, read_flag(md, "tokenizer.ggml.add_space_prefix"));
  if (add_prefix) t->add_space_prefix = *add_prefix;

  ER_ASSIGN_OR_RETURN(t->texts, md.get_string_array(kKeyTokens));
  if (t->texts.empty()) {
    return Status::invalid("metadata key '" + std::string(kKeyTokens) + "' is empty: the vocabulary has no tokens");
  }
  if (t->texts.size() > static_cast<size_t>(INT32_MAX / 2)) {
    return Status::invalid("metadata key '" + std::string(kKeyTokens) + "': too many tokens");
  }
  const size_t n = t->texts.size();

  t->scores.assign(n, 0.0f);
  if (md.contains(kKeyScores)) {
    ER_ASSIGN_OR_RETURN(const std::vector<double> scores, md.get_double_array(kKeyScores));
    if (scores.size() < n) return Status::invalid("metadata key '" + std::string(kKeyScores) + "': fewer entries than tokens");
    for (size_t i = 0; i < n; ++i) t->scores[i] = static_cast<float>(scores[i]);
  }
  t->attrs.assign(n, kAttrNormal);
  if (md.contains(kKeyTokenType)) {
    ER_ASSIGN_OR_RETURN(const std::vector<int64_t> types, md.get_int_array(kKeyTokenType));
    if (types.size() < n) return Status::invalid("metadata key '" + std::string(kKeyTokenType) + "': fewer entries than tokens");
    for (size_t i = 0; i < n; ++i) t->attrs[i] = attr_from_type(types[i]);
  }
  // llama.cpp's token_to_id, filled the same way: its iteration order decides name-based detection.
  StringIdMap token_to_id;
  for (size_t i = 0; i < n; ++i) {
    std::string& text = t->texts[i];
    // Token texts are UTF-8 in every tokenizer model (byte-level BPE maps bytes to printable code
    // points; SentencePiece writes raw bytes as <0xXX> tokens): anything else is a damaged file,
    // and would reach the pre-tokenizer's regexes and the output text.
    if (!is_valid_utf8(text)) {
      std::string hex;
      for (size_t b = 0; b < text.size() && b < 16; ++b) {
        static constexpr char kHex[] = "0123456789abcdef";
        const auto c = static_cast<uint8_t>(text[b]);
        hex += (b ? " " : "") + std::string{kHex[c >> 4], kHex[c & 15]};
      }
      return Status::invalid("metadata key '" + std::string(kKeyTokens) + "': token " + std::to_string(i) +
                             " is not valid UTF-8 (bytes " + hex + (text.size() > 16 ? " ..." : "") + ")");
    }
    if (text.empty()) text = "[EMPTY_" + std::to_string(i) + "]";
    if (!token_to_id.emplace(text, static_cast<int32_t>(i)).second) {
      return Status::invalid("metadata key '" + std::string(kKeyTokens) + "': duplicate token '" + text + "' at index " +
                             std::to_string(i));
    }
  }

  t->index.build(t->texts);

  if (t->type == VocabType::kBpe) {
    if (!md.contains(kKeyMerges)) return Status::not_found("metadata key '" + std::string(kKeyMerges) + "' not found");
    ER_ASSIGN_OR_RETURN(const std::vector<std::string> merges, md.get_string_array(kKeyMerges));
    build_bpe_table(*t, merges);
  }
  ER_RETURN_IF_ERROR(load_special_ids(*t, token_to_id, md));

  // Special tokens, longest text first, for splitting them out of prompt text.
  for (int32_t id = 0; id < t->n_vocab(); ++id) {
    if (t->attrs[static_cast<size_t>(id)] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) t->specials.push_back(id);
  }
  std::stable_sort(t->specials.begin(), t->specials.end(), [&](TokenId a, TokenId b) {
    return t->texts[static_cast<size_t>(a)].size() > t->texts[static_cast<size_t>(b)].size();
  });
  for (size_t rank = 0; rank < t->specials.size(); ++rank) {
    t->special_trie.insert(t->texts[static_cast<size_t>(t->specials[rank])], static_cast<int32_t>(rank));
  }

  t->pieces.resize(n);
  for (int32_t id = 0; id < t->n_vocab(); ++id) t->pieces[static_cast<size_t>(id)] = token_to_piece(*t, id);
  return Tokenizer(std::move(t));
}

const std::string& Tokenizer::piece(TokenId id) const {
  ER_CHECK(impl_->valid(id), "token id out of range: " + std::to_string(id));
  return impl_->pieces[static_cast<size_t>(id)];
}
const std::string& Tokenizer::text(TokenId id) const {
  ER_CHECK(impl_->valid(id), "token id out of range: " + std::to_string(id));
  return impl_->texts[static_cast<size_t>(id)];
}
uint32_t Tokenizer::attr(TokenId id) const { return impl_->valid(id) ? impl_->attrs[static_cast<size_t>(id)] : 0; }
int32_t Tokenizer::n_vocab() const { return impl_->n_vocab(); }
TokenId Tokenizer::bos() const { return impl_->bos; }
TokenId Tokenizer::eos() const { return impl_->eos; }
TokenId Tokenizer::eot() const { return impl_->eot; }
TokenId Tokenizer::unk() const { return impl_->unk; }
TokenId Tokenizer::pad() const { return impl_->pad; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
VocabType Tokenizer::type() const { return impl_->type; }
const std::string& Tokenizer::pre() const { return impl_->pre; }
bool Tokenizer::is_eog(TokenId id) const { return std::binary_search(impl_->eog.begin(), impl_->eog.end(), id); }
bool Tokenizer::is_control(TokenId id) const { return (attr(id) & kAttrControl) != 0; }
const std::vector<TokenId>& Tokenizer::eog_ids() const { return impl_->eog; }
std::optional<TokenId> Tokenizer::find(std::string_view token_text) const {
  const TokenId id = impl_->lookup(token_text);
  return id == kNoToken ? std::nullopt : std::optional<TokenId>(id);
}

}  // namespace er::tokenizer
