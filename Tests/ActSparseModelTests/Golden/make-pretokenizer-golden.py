#!/usr/bin/env python3
"""Pre-token pieces of varied strings under Llama-3's and Qwen2's pre-tokenizer regexes, split by Hugging Face
`tokenizers` (pip install tokenizers): an independent check of ActSparse's hand-written matchers.

  make-pretokenizer-golden.py OUT.json
"""
import json
import sys

from tokenizers import Regex, pre_tokenizers

# llama.cpp's regexes for its "llama-bpe" (Llama-3) and "qwen2" pre-tokenizers.
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
TEXTS = [
    "Hello world", " leading space", "  two  spaces  ", "tabs\tand\nnewlines\n\n\n", "trailing spaces   ",
    "digits 1234567 and 3.14159 and 42", "naïve café, Ünïcödé — ‘quotes’", "日本語のテキスト", "emoji 🙂🚀 mixed",
    "code: for (int i = 0; i < n; ++i) { x[i] += 1; }", "URL https://example.com/a?b=c&d=e",
    "CamelCaseWordsAndALLCAPS", "it's can't we'll they'd I'M YOU'RE", "\u00a0non-breaking\u2009thin",
    "a\r\nwindows\r\nlines", "multiple   spaces\n  indented\n    more", "punctuation!!! ??? ... ;;; ---",
    "x\n\n  y", "'quoted' and 'S alone", "Zürich, São Paulo, Kraków", "ПРИВЕТ мир", "#include <stdio.h>\n",
    "  \n  \n", "$100.00 + 5%", "--option=value", "end.",
]


def main(out):
    cases = []
    for name, pat in (("llama-bpe", LLAMA3), ("qwen2", QWEN2)):
        split = pre_tokenizers.Split(Regex(pat), behavior="isolated")
        for t in TEXTS:
            cases.append({"pre": name, "text": t, "pieces": [p for p, _ in split.pre_tokenize_str(t)]})
    with open(out, "w") as f:
        json.dump({"engine": "tokenizers (Hugging Face)", "cases": cases}, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main(sys.argv[1])
