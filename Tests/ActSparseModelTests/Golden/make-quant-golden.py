#!/usr/bin/env python3
"""Golden data for ActSparse's GGUF block decoders, made with the PyPI package `gguf` (an independent numpy
dequantizer): `pip install gguf numpy`.

  make-quant-golden.py synthetic OUT.gguf
      For every quantized type ActSparse reads: a tensor `w.TYPE` of random blocks (finite scales) and a tensor
      `ref.TYPE` (F32, same shape) holding gguf.quants.dequantize of it. Committed as quant-golden.gguf.
  make-quant-golden.py real MODEL.gguf OUT.json
      For one tensor of every quantized type in a real file: the first and last row's first 256 values (f32 bit
      patterns) as numpy dequantizes them. Committed for gemma-3-270m-q4_k_m.gguf.
"""
import json
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

TYPES = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K, T.Q3_K, T.IQ4_NL]
# byte offsets of the f16 scale fields of a block (they must be finite for the file to mean numbers)
F16_FIELDS = {T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
              T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.Q3_K: [108], T.IQ4_NL: [0]}


def synthetic(out):
    rng = np.random.default_rng(20261126)
    w = gguf.GGUFWriter(out, "golden")
    for t in TYPES:
        block, nbytes = gguf.GGML_QUANT_SIZES[t]
        ic = 256 if block == 256 else 64   # elements per row (input channels)
        oc = 33                            # rows: one full 32-column block of the plain layout and a tail
        raw = rng.integers(0, 256, size=(oc, ic // block, nbytes), dtype=np.uint8)
        for off in F16_FIELDS[t]:
            scales = (rng.standard_normal(size=(oc, ic // block)) * 0.01).astype(np.float16)
            raw[:, :, off:off + 2] = scales.view(np.uint8).reshape(oc, ic // block, 2)
        raw = raw.reshape(oc, ic // block * nbytes)
        ref = gguf.quants.dequantize(raw, t).astype(np.float32)
        assert ref.shape == (oc, ic) and np.isfinite(ref).all()
        w.add_tensor(f"w.{t.name}", raw, raw_dtype=t)
        w.add_tensor(f"ref.{t.name}", ref)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def real(model, out):
    r = gguf.GGUFReader(model)
    seen, rows = set(), []
    for t in r.tensors:
        if t.tensor_type in TYPES and t.tensor_type not in seen and len(t.shape) == 2:
            seen.add(t.tensor_type)
            data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
            for row in (0, data.shape[0] - 1):
                rows.append({"tensor": t.name, "type": t.tensor_type.name, "row": int(row),
                             "bits": data[row, :256].view(np.uint32).tolist()})
    with open(out, "w") as f:
        json.dump({"model": model.split("/")[-1], "rows": rows}, f)


if __name__ == "__main__":
    if sys.argv[1] == "synthetic":
        synthetic(sys.argv[2])
    else:
        real(sys.argv[2], sys.argv[3])
