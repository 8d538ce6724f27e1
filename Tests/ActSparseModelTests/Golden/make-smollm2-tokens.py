#!/usr/bin/env python3
"""Golden token ids for the tokenizer tests, from an independent implementation.

Builds a Hugging Face `tokenizers` BPE tokenizer from a GGUF's own vocabulary and merges (read with the `gguf`
package), with SmolLM2's pre-tokenizer (digits split one by one, then GPT-2 byte-level regex), encodes the strings
below and writes their ids as JSON. Plain-text ids treat control-token spellings as text (as ActSparse does for
user text); `ids_specials` parse them as control tokens (as the chat template does).

    pip install --target DIR tokenizers gguf && PYTHONPATH=DIR python3 Tests/ActSparseModelTests/Golden/make-smollm2-tokens.py MODEL.gguf OUT.json

Its output for SmolLM2-135M-Instruct is smollm2-tokens.json beside this script.
"""
import json
import sys

from gguf import GGUFReader
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

STRINGS = [
    "The capital of France is",
    "Hello, world!",
    "  two  spaces\n\nnew lines\t tab",
    "don't we'll they're I'm you've she'd",
    "1234567890 and 3.14159 or 1,000,000",
    "héllo wörld ça va? naïve café",
    "日本語のテキストと中文",
    "emoji 🚀🔥 and ✓ ✗ symbols ©®",
    "def f(x):\n    return x ** 2  # square",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "user text with <|im_start|> inside",
    "<|endoftext|>",
    "Ünïcödé ÅÆØ",
    "    leading spaces",
    "trailing spaces    ",
    "\n\n\n",
    "mixedCASE camelCase snake_case SCREAMING_CASE",
    "https://example.org/path?query=1&b=2",
    "\"quoted\" 'single' `back`",
    "a" * 40,
    "Ελληνικά και русский текст",
    "x\u00a0y\u2003z",
]


def field(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data] if len(f.data) > 1 else f.parts[f.data[0]]


def main():
    model, out = sys.argv[1], sys.argv[2]
    r = GGUFReader(model)
    tokens = field(r, "tokenizer.ggml.tokens")
    merges = field(r, "tokenizer.ggml.merges")
    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0]) for i in r.fields["tokenizer.ggml.token_type"].data]
    vocab = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)
    bpe = models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges])

    def make(specials):
        tok = Tokenizer(bpe)
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
        tok.decoder = decoders.ByteLevel()
        if specials:
            tok.add_special_tokens([t for t, ty in zip(tokens, types) if ty == 3])
        return tok

    plain, special = make(False), make(True)
    cases = []
    for s in STRINGS:
        case = {"text": s, "ids": plain.encode(s, add_special_tokens=False).ids}
        if "<|" in s:
            case["ids_specials"] = special.encode(s, add_special_tokens=False).ids
        cases.append(case)
    with open(out, "w", encoding="utf-8") as f:  # one case per line
        f.write('{"model": %s, "generator": "make-smollm2-tokens.py (HF tokenizers)", "cases": [\n'
                % json.dumps(model.split("/")[-1]))
        f.write(",\n".join(" " + json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
    print(f"{len(cases)} strings → {out}")


if __name__ == "__main__":
    main()
