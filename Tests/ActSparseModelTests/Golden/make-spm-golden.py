#!/usr/bin/env python3
"""A tiny SentencePiece-style (tokenizer.ggml.model = llama) vocabulary with a space prefix, as Llama-2 /
Mistral / TinyLlama files carry, and llama.cpp's token ids for varied strings on it.
Needs gguf (pip install gguf) and llama.cpp's Python binding (llama-cpp-python==0.3.36); the tests need neither.

  make-spm-golden.py OUT.gguf OUT.json
"""
import json
import sys

import gguf

PIECES = ["▁the", "▁t", "he", "▁a", "▁an", "▁and", "an", "nd", "▁", "▁▁", "▁▁▁▁", "in", "▁in", "ing", "▁th",
          "er", "▁w", "or", "ld", "▁wor", "▁world", "▁Hello", "He", "llo", "ll", "o", "e", "t", "h", "a", "n",
          "d", "r", "w", "l", "i", "g", "H", "s", ".", ",", "é", "▁café", "caf", "1", "2", "12", "▁1"]
TEXTS = ["Hello world", "the and an", "  two  spaces", "in the world.", "café 12 1", "x\ny", "ünïcödé 日本",
         "the<s>and", "emoji 🙂", "", " leading", "trailing ", "ab\tcd", "12345", "Hello, world."]


def main(out_gguf, out_json):
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>"); scores.append(0.0); types.append(6)
    for i, p in enumerate(PIECES):
        tokens.append(p); scores.append(-float(i)); types.append(1)  # earlier pieces merge first
    w = gguf.GGUFWriter(out_gguf, "llama")
    w.add_block_count(1); w.add_context_length(64); w.add_embedding_length(64); w.add_feed_forward_length(128)
    w.add_head_count(4); w.add_head_count_kv(4); w.add_layer_norm_rms_eps(1e-5); w.add_rope_dimension_count(16)
    w.add_tokenizer_model("llama"); w.add_tokenizer_pre("default")
    w.add_token_list(tokens); w.add_token_scores(scores); w.add_token_types(types)
    w.add_bos_token_id(1); w.add_eos_token_id(2); w.add_unk_token_id(0)
    w.add_add_bos_token(True); w.add_add_space_prefix(True)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

    from llama_cpp import Llama
    llm = Llama(model_path=out_gguf, vocab_only=True, verbose=False)
    cases = [{"text": t, "ids": llm.tokenize(t.encode(), add_bos=True, special=False),
              "ids_specials": llm.tokenize(t.encode(), add_bos=True, special=True)} for t in TEXTS]
    with open(out_json, "w") as f:
        json.dump({"engine": "llama-cpp-python 0.3.36", "cases": cases}, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
