// The three Unicode classes of GPT-2's pre-tokenization rule, \p{L} (letters), \p{N} (numbers) and \s
// (white space), as tables of code point ranges generated from node's regex engine
// (scripts/gen_unicode_classes.js), so the split agrees with the JavaScript reference tokenizers.
#pragma once

namespace wb::data::text {

bool is_letter(char32_t cp);
bool is_number(char32_t cp);
bool is_space(char32_t cp);

}  // namespace wb::data::text
