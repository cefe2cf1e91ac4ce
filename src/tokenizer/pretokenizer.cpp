// Pre-tokenizer regex lists per `tokenizer.ggml.pre` (as in llama.cpp) and their PCRE2 execution.
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "core/check.h"

namespace er::tokenizer {
namespace {

// llama.cpp's regex strings (llm_tokenizer_bpe's constructor), verbatim.
const std::string kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
const std::string kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Unicode White_Space, the set llama.cpp's unicode tables mark as whitespace.
constexpr std::string_view kWhiteSpaceSet =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

struct Row {
  std::array<std::string_view, 10> names;
  std::string_view kind;
  int regex_list;  // 0 default, 1 gpt2, 2 smollm, 3 llama3, 4 qwen2
  bool clean_spaces;
  bool ignore_merges;
  bool add_bos_default;
};

// The subset of llama.cpp's pre types whose regex lists this engine carries.
constexpr std::array<Row, 8> kRows = {{
    {{"default"}, "default", 0, true, false, false},
    {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert"},
     "gpt2", 1, true, false, false},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
     "llama3", 3, true, true, true},
    {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2"}, "qwen2", 4, false, false, false},
    {{"megrez", "stablelm2"}, "qwen2", 4, true, false, false},
    {{"smollm"}, "smollm", 2, false, false, false},
    {{"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"}, "smollm", 2, true, false, false},
    {{"mpt", "olmo"}, "gpt2", 1, true, false, false},
}};

std::vector<std::string> regex_list(int id) {
  switch (id) {
    case 0: return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    case 1: return {kGpt2};
    case 2: return {R"(\p{N})", kGpt2};
    case 3: return {kLlama3};
    case 4: return {kQwen2};
  }
  ER_CHECK(false, "unknown regex list");
  return {};
}

}  // namespace

std::optional<PreTokenizerSpec> find_pre_tokenizer(std::string_view pre) {
  if (pre.empty()) pre = "default";
  for (const Row& row : kRows) {
    for (std::string_view name : row.names) {
      if (!name.empty() && name == pre) {
        return PreTokenizerSpec{row.kind, regex_list(row.regex_list), row.clean_spaces, row.ignore_merges,
                                row.add_bos_default};
      }
    }
  }
  return std::nullopt;
}

std::string translate_regex(std::string_view re) {
  std::string out;
  out.reserve(re.size() * 2);
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char e = re[i + 1];
      ++i;
      if (e == 's') {
        if (in_class) {
          out += kWhiteSpaceSet;
        } else {
          out += '[';
          out += kWhiteSpaceSet;
          out += ']';
        }
      } else if (e == 'S') {
        ER_CHECK(!in_class, "\\S inside a character class is not supported");
        out += "[^";
        out += kWhiteSpaceSet;
        out += ']';
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

Result<PreTokenizer> PreTokenizer::create(const std::vector<std::string>& regexes) {
  PreTokenizer pt;
  for (const std::string& re : regexes) {
    const std::string pattern = translate_regex(re);
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &err_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return Status::internal("pre-tokenizer regex '" + re + "': " + reinterpret_cast<const char*>(msg) +
                              " at offset " + std::to_string(err_offset));
    }
    auto compiled = std::make_shared<Compiled>();
    compiled->code = code;
    compiled->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    pt.regexes_.push_back(std::move(compiled));
  }
  return pt;
}

void PreTokenizer::split(std::string_view subject, std::vector<Span>& pieces) const {
  pieces.clear();
  if (subject.empty()) return;
  std::vector<Span> current = {{0u, static_cast<uint32_t>(subject.size())}};
  std::vector<Span> next;
  const auto* base = reinterpret_cast<PCRE2_SPTR>(subject.data());
  for (const auto& re : regexes_) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(re->code, nullptr);
    ER_CHECK(md != nullptr, "out of memory");
    next.clear();
    next.reserve(current.size() * 2);
    for (const auto& [begin, end] : current) {
      // Each piece is its own subject: lookaheads see the piece's end as the end of the text.
      const PCRE2_SPTR piece = base + begin;
      const PCRE2_SIZE len = end - begin;
      PCRE2_SIZE pos = 0;
      PCRE2_SIZE emitted = 0;  // end of the last emitted range, relative to `piece`
      while (pos < len) {
        int rc = pcre2_match(re->code, piece, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          rc = pcre2_match(re->code, piece, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
        }
        if (rc == PCRE2_ERROR_NOMATCH) break;
        ER_CHECK(rc >= 0, "pcre2_match failed with code " + std::to_string(rc));
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const PCRE2_SIZE m_begin = ov[0];
        const PCRE2_SIZE m_end = ov[1];
        if (m_end == m_begin) {  // empty match: not produced by our regexes; step one character
          pos = m_end + 1;
          while (pos < len && (piece[pos] & 0xC0) == 0x80) ++pos;
          continue;
        }
        if (m_begin > emitted) next.emplace_back(begin + emitted, begin + m_begin);
        next.emplace_back(begin + m_begin, begin + m_end);
        emitted = pos = m_end;
      }
      if (emitted < len) next.emplace_back(begin + emitted, end);
    }
    pcre2_match_data_free(md);
    current.swap(next);
  }
  pieces.swap(current);
}

}  // namespace er::tokenizer
