"""Whether two GGUF files hold the same tensors: per name, the same type and the same bytes.

    same_tensors.py A.gguf B.gguf
"""
import sys

import gguf
import numpy as np

a, b = (gguf.GGUFReader(p) for p in sys.argv[1:3])
ta = {t.name: (t.tensor_type, np.asarray(t.data).tobytes()) for t in a.tensors}
tb = {t.name: (t.tensor_type, np.asarray(t.data).tobytes()) for t in b.tensors}
diff = sorted(n for n in ta.keys() | tb.keys() if ta.get(n) != tb.get(n))
print("same tensors" if not diff else f"{len(diff)} tensors differ, e.g. {diff[:3]}")
