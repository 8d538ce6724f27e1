#!/usr/bin/env python3
"""Golden data from llama.cpp for a GGUF model (pip install llama-cpp-python==0.3.36, built with
CMAKE_ARGS="-DGGML_NATIVE=ON"; never needed by the tests themselves):

  make-llamacpp-golden.py MODEL.gguf OUT.json

- token ids of varied strings (plain, and with control tokens parsed), from llama.cpp's tokenizer;
- the greedy continuation of "The capital of France is" (20 tokens) with, at each step, the margin between
  llama.cpp's two best logits and the runner-up: where that margin is tiny the choice is numerical noise
  (llama.cpp's own choice changes with its KV-cache precision), so a test feeds llama.cpp's tokens and checks
  that the engine's best token is llama.cpp's wherever the margin is clear, and one of the two best where not.
"""
import json
import sys

import numpy as np
from llama_cpp import Llama

TEXTS = [
    "Hello world", " leading space", "The capital of France is", "  two  spaces  ", "tabs\tand\nnewlines\n\n\n",
    "digits 1234567 and 3.14159", "naïve café, Ünïcödé — ‘quotes’", "日本語のテキスト", "emoji 🙂🚀 mixed",
    "code: for (int i = 0; i < n; ++i) { x[i] += 1; }", "URL https://example.com/a?b=c&d=e",
    "CamelCaseWordsAndALLCAPS", "it's can't we'll they'd I'M", "\u00a0non-breaking\u2009thin", "a\r\nwindows\r\nlines",
    "<start_of_turn>user\nhi<end_of_turn>\n", "multiple   spaces\n  indented\n    more", "x" * 40,
    "punctuation!!! ??? ... ;;; ---", "Zürich, São Paulo, Kraków", "ÅÄÖ åäö", "ПРИВЕТ мир", "#include <stdio.h>",
]


def main(model, out):
    llm = Llama(model_path=model, n_ctx=256, n_threads=2, verbose=False, logits_all=True)
    cases = []
    for t in TEXTS:
        cases.append({"text": t, "ids": llm.tokenize(t.encode(), add_bos=True, special=False),
                      "ids_specials": llm.tokenize(t.encode(), add_bos=True, special=True)})
    prompt = llm.tokenize(b"The capital of France is", add_bos=True, special=False)
    toks, gen, margins, second = list(prompt), [], [], []
    llm.reset()
    for _ in range(20):
        llm.reset()
        llm.eval(toks)
        lg = np.array(llm.scores[len(toks) - 1], dtype=np.float64)
        top = np.argsort(-lg)[:2]
        gen.append(int(top[0]))
        margins.append(float(lg[top[0]] - lg[top[1]]))
        second.append(int(top[1]))
        toks.append(int(top[0]))
    with open(out, "w") as f:
        json.dump({"model": model.split("/")[-1], "engine": "llama-cpp-python 0.3.36", "cases": cases,
                   "greedy": {"prompt": prompt, "ids": gen, "margins": margins, "second": second,
                              "text": llm.detokenize(gen).decode(errors="replace")}}, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
