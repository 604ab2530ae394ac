#!/usr/bin/env python3
"""Run as: /tmp/arch_venv/bin/python tests/data/pytorch/make_fixtures.py (Debian 12's python3-torch
1.13 seen through a venv with --system-site-packages, plus `pip install safetensors`); writes
the checkpoints under tests/data/pytorch/ that the interop tests (tests/interop/test_pytorch*.py)
read. Run once by hand; its outputs are committed, and the tests never need torch.

What it writes, for every case in CASES:

  <case>.zip.pt       torch.save(obj, f)                             (the torch >= 1.6 format)
  <case>.legacy.pt    torch.save(obj, f, _use_new_zipfile_serialization=False)
  <case>.expected.safetensors
                      what torch holds, written by the safetensors package: every tensor of obj
                      under its flattened name (nested dict keys joined with '.'), as
                      tensor.contiguous(). Its __metadata__ holds one key, "non_tensor_values":
                      a JSON object of the flattened non-tensor leaves (ints, floats, strings).

and two Hugging Face folders of tests/data/hf/tiny-llama3 with its model.safetensors rewritten
by torch: tiny-llama3-bin/ as pytorch_model-0000{1,2}-of-00002.bin and
pytorch_model.bin.index.json (what transformers' save_pretrained writes for .bin weights), and
tiny-llama3-legacy/ as one pytorch_model.bin in the legacy format (what older transformers wrote).

The zip files are byte-for-byte reproducible. The legacy format keys each storage by its memory
address (str(storage._cdata)), so legacy files differ between runs in those keys and in the order
of the storages they sort; the tensors they hold do not.

The malicious files are made by make_malicious.py, without torch.
"""

import json
import shutil
from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

HERE = Path(__file__).resolve().parent
HF_LLAMA3 = HERE.parent / "hf" / "tiny-llama3"
SEED = 20240611


def every_dtype():
    g = torch.Generator().manual_seed(SEED)
    floats = torch.randn(2, 3, generator=g, dtype=torch.float64)
    ints = torch.randint(-120, 120, (2, 3), generator=g, dtype=torch.int64)
    return {
        "f64": floats.clone(),
        "f32": floats.to(torch.float32),
        "f16": floats.to(torch.float16),
        "bf16": floats.to(torch.bfloat16),
        "i8": ints.to(torch.int8),
        "i16": (ints * 251).to(torch.int16),
        "i32": (ints * 16777259).to(torch.int32),
        "i64": ints * 1099511627791,
        "u8": (ints + 128).to(torch.uint8),
        "bool": ints > 0,
    }


def shapes():
    g = torch.Generator().manual_seed(SEED + 1)
    return {
        "scalar": torch.tensor(2.5),
        "scalar_i64": torch.tensor(-7, dtype=torch.int64),
        "empty": torch.zeros(0),
        "empty_2d": torch.zeros(3, 0, dtype=torch.float16),
        "one": torch.ones(1, 1, 1),
        "rank4": torch.randn(2, 1, 3, 2, generator=g),
    }


def views():
    """Tensors that are views of one storage: torch saves the storage once, and each view as
    (offset, size, stride) into it."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    flat = base.view(-1)
    return {
        "base": base,
        "transposed": base.t(),
        "sliced": base[1:3, 2:5],
        "offset": flat[5:11],
        "strided": flat[1::4],
        "column": base[:, 3],
        "expanded": torch.tensor([1.0, 2.0, 3.0]).expand(4, 3),
        "permuted": torch.arange(24, dtype=torch.int16).reshape(2, 3, 4).permute(2, 0, 1),
    }


def shared():
    """Two names for one tensor (tied weights), and two tensors over one storage; the tensors
    that share a storage come in an order other than their offsets."""
    g = torch.Generator().manual_seed(SEED + 2)
    emb = torch.randn(5, 4, generator=g).to(torch.float16)
    whole = torch.randn(10, generator=g)
    return {
        "embed": emb,
        "lm_head": emb,
        "tail": whole[6:],
        "head": whole[:4],
        "whole": whole,
    }


def parameters():
    g = torch.Generator().manual_seed(SEED + 3)
    return {
        "weight": torch.nn.Parameter(torch.randn(3, 4, generator=g)),
        "frozen": torch.nn.Parameter(torch.randn(2, generator=g).to(torch.bfloat16),
                                     requires_grad=False),
    }


def module_state():
    """An nn.Module's state_dict: an OrderedDict carrying a _metadata attribute (pickled with
    BUILD), parameters, buffers and BatchNorm's 0-d int64 num_batches_tracked."""
    torch.manual_seed(SEED + 4)
    m = torch.nn.Sequential(
        torch.nn.Linear(4, 3),
        torch.nn.LayerNorm(3),
        torch.nn.BatchNorm1d(3),
        torch.nn.Embedding(5, 4),
    )
    return m.state_dict()


def nested():
    return {"model": module_state(), "epoch": 3, "name": "x", "lr": 0.1}


CASES = {
    "dtypes": every_dtype,
    "shapes": shapes,
    "views": views,
    "shared": shared,
    "parameter": parameters,
    "module": module_state,
    "nested": nested,
}


def flatten(obj, prefix=""):
    """(tensors, other leaves), each {dotted name: value}."""
    tensors, values = OrderedDict(), OrderedDict()
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            t, o = flatten(v, name + ".")
            tensors.update(t)
            values.update(o)
        elif isinstance(v, torch.Tensor):
            tensors[name] = v.detach().contiguous()
        else:
            values[name] = v
    return tensors, values


def write_case(name, make):
    obj = make()
    torch.save(obj, HERE / f"{name}.zip.pt")
    torch.save(obj, HERE / f"{name}.legacy.pt", _use_new_zipfile_serialization=False)
    tensors, values = flatten(obj)
    # save_file refuses tensors that share memory, so each gets its own copy.
    save_file({k: v.clone() for k, v in tensors.items()}, HERE / f"{name}.expected.safetensors",
              metadata={"non_tensor_values": json.dumps(values)})


def hf_folder(name):
    """A fresh folder with tiny-llama3's config and tokenizer; returns (folder, its weights)."""
    dest = HERE / name
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir()
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(HF_LLAMA3 / f, dest / f)
    return dest, load_file(HF_LLAMA3 / "model.safetensors")


def write_legacy_folder():
    dest, weights = hf_folder("tiny-llama3-legacy")
    torch.save(weights, dest / "pytorch_model.bin", _use_new_zipfile_serialization=False)


def write_sharded_folder():
    dest, weights = hf_folder("tiny-llama3-bin")
    names = sorted(weights)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for i, part in enumerate(halves, 1):
        shard = f"pytorch_model-{i:05d}-of-{len(halves):05d}.bin"
        torch.save({n: weights[n] for n in part}, dest / shard)
        for n in part:
            weight_map[n] = shard
            total += weights[n].numel() * weights[n].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (dest / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2) + "\n")


def main():
    for name, make in CASES.items():
        write_case(name, make)
    write_sharded_folder()
    write_legacy_folder()


if __name__ == "__main__":
    main()
