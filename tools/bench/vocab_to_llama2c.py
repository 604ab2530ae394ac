"""A llama2.c tokenizer file (score, length, piece with spaces for U+2581) from a vocab GGUF, which
`owl convert --tokenizer` attaches to a Hugging Face folder that has none (a synthetic model).

    vocab_to_llama2c.py VOCAB.gguf OUT.bin      # e.g. llama.cpp's models/ggml-vocab-llama-spm.gguf
"""
import struct
import sys

import gguf

f = gguf.GGUFReader(sys.argv[1]).fields
tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]) for i in f["tokenizer.ggml.tokens"].data]
scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
pieces = [t.replace("\u2581".encode(), b" ") for t in tokens]
with open(sys.argv[2], "wb") as out:
    out.write(struct.pack("<i", max(len(p) for p in pieces)))
    for p, s in zip(pieces, scores):
        out.write(struct.pack("<fi", s, len(p)) + p)
