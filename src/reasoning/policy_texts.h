// The fixed texts of the thinking policies (reference.md §4) and the per-format defaults.
#pragma once

#include <string>
#include <string_view>

namespace er::reasoning {

struct ThinkingFormat;

// NoThink (Ma et al. 2025): the thinking box prefilled as finished.
inline constexpr std::string_view kNoThinkText = "Okay, I think I have finished thinking.";
// Budget forcing's answer prefix after the forced close (s1 / R1 distills).
inline constexpr std::string_view kAnswerPrefix = "**Final Answer:** \\boxed{";
// NoThink for tag-less formats: the prefill ends at the marker, the model writes the answer.
inline constexpr std::string_view kAnswerPrefixNoBox = "**Final Answer:** ";
// s1's extension.
inline constexpr std::string_view kWaitText = "Wait";
// L1's instruction, followed by " Think for N tokens." or " Think for maximum N tokens."
inline constexpr std::string_view kL1Instruction =
    "Let's think step by step and output the final answer within \\boxed{}.";
// Tag-less formats: reasoning, then the marker that ends the thinking span.
inline constexpr std::string_view kMarkerInstruction =
    "\n\nThink step by step, then write \"Final Answer:\" followed by your final answer.";

// "\n</think>\n\n" for tag formats, "\n\n" for tag-less ones (the marker is in the prefix).
std::string default_close_text(const ThinkingFormat& fmt);
std::string default_answer_prefix(const ThinkingFormat& fmt);

}  // namespace er::reasoning
