// Decoding: token pieces, Tokenizer::decode (llama_detokenize's rules) and the StreamDecoder.
#include <cstdio>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace er::tokenizer {
namespace {

// llama_decode_text: GPT-2 characters back to bytes; a character outside the alphabet is kept
// visibly, as llama.cpp does.
std::string decode_byte_level(const std::string& text) {
  const ByteMap& map = ByteMap::get();
  std::string out;
  out.reserve(text.size());
  for (const uint32_t cpt : decode_utf8_lenient(text)) {
    const int b = map.decode(cpt);
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
      continue;
    }
    std::string utf8;
    append_utf8(utf8, cpt);
    out += "[UNK_BYTE_0x";
    for (const char c : utf8) {
      char hex[3];
      std::snprintf(hex, sizeof(hex), "%02x", static_cast<uint8_t>(c));
      out += hex;
    }
    out += text + "]";
  }
  return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t at = 0;
  for (size_t pos; (pos = s.find(from, at)) != std::string::npos; at = pos + from.size()) {
    out.append(s, at, pos - at);
    out += to;
  }
  out.append(s, at, std::string::npos);
  return out;
}

// llama_detokenize's clean_spaces passes, ported literally (they edit the buffer in place).
void clean_spaces(std::string& text) {
  int32_t total = static_cast<int32_t>(text.size());
  char* s = text.data();
  // " ?", " !", " .", " ," lose the space.
  const int32_t total1 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total1; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
    s[total++] = x;
  }
  // " ' " becomes "'".
  const int32_t total2 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total2; ++i) {
    const char x = s[i];
    if (x == '\'' && i + 1 < total2 && s[i - 1] == ' ' && s[i + 1] == ' ') {
      total--;
      s[++i] = '\0';
    }
    s[total++] = x;
  }
  // " 's", " 'm", " 're", " 've" lose the space.
  const int32_t total3 = total;
  total = total ? 1 : 0;
  for (int32_t i = 1; i < total3; ++i) {
    const char x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
      const char x1 = s[i + 1];
      if (x1 == 's' || x1 == 'm') {
        total--;
      } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
        const char x2 = s[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
      }
    }
    s[total++] = x;
  }
  text.resize(static_cast<size_t>(total));
}

}  // namespace

std::string token_to_piece(const TokenizerImpl& t, TokenId id) {
  const uint32_t a = t.attrs[static_cast<size_t>(id)];
  const std::string& text = t.texts[static_cast<size_t>(id)];
  if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return text;
  if (a & kAttrNormal) {
    return t.type == VocabType::kBpe ? decode_byte_level(text) : replace_all(text, "\xe2\x96\x81", " ");
  }
  if ((a & kAttrByte) && text.size() >= 5) {  // "<0xXX>"
    const auto hex = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    const int hi = hex(text[3]), lo = hex(text[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  return {};
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool render_special) const {
  const TokenizerImpl& t = *impl_;
  std::string out;
  bool remove_space = t.add_space_prefix;  // the first token's leading space (SPM)
  for (const TokenId id : ids) {
    if (!t.valid(id)) continue;
    const bool hidden = !render_special && (t.attrs[static_cast<size_t>(id)] & (kAttrUnknown | kAttrControl));
    if (!hidden) {
      const std::string& p = t.pieces[static_cast<size_t>(id)];
      out.append(p, remove_space && !p.empty() && p[0] == ' ' ? 1 : 0, std::string::npos);
    }
    remove_space = false;
  }
  if (t.clean_spaces) clean_spaces(out);
  return out;
}

std::string StreamDecoder::push(TokenId id) {
  if (id < 0 || id >= tok_->n_vocab()) return {};
  if (!render_special_ && (tok_->attr(id) & (kAttrUnknown | kAttrControl))) return {};
  pending_ += tok_->piece(id);
  // Hold back a trailing lead byte whose sequence is not complete yet.
  size_t keep_from = pending_.size();
  for (size_t back = 1; back <= 3 && back <= pending_.size(); ++back) {
    const auto b = static_cast<uint8_t>(pending_[pending_.size() - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = 0;
    if ((b & 0xE0) == 0xC0) need = 2;
    else if ((b & 0xF0) == 0xE0) need = 3;
    else if ((b & 0xF8) == 0xF0) need = 4;
    if (need > back) keep_from = pending_.size() - back;
    break;
  }
  std::string out = pending_.substr(0, keep_from);
  pending_.erase(0, keep_from);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace er::tokenizer
