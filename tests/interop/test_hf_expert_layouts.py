"""gpt-oss's and Llama 4's expert layouts from hostile folders: MXFP4 blocks without their
scales, blocks and scales that disagree, the wrong type, expert stacks that do not fit the
config. Each is one error line naming the folder and what is wrong, and no output; the input is
left as it was. (The well-formed folders are compared with the reference converter's files in
test_gguf_hf_reference.py and quantized in test_hf_moe.py.)"""

import json

import pytest

import gguf_util as gu
import stutil as su

BLOCKS = "model.layers.1.mlp.experts.down_proj_blocks"
SCALES = "model.layers.1.mlp.experts.down_proj_scales"


def edit_tensors(folder, edit):
    path = folder / "model.safetensors"
    tensors = su.read_reference(path)
    edit(tensors)
    su.write_manual(path, dict(sorted(tensors.items())), {"format": "pt"})


def reshape(name, shape):
    def edit(tensors):
        dtype, _, blob = tensors[name]
        tensors[name] = (dtype, shape, blob)
    return edit


def retype(name, dtype):
    def edit(tensors):
        _, shape, blob = tensors[name]
        tensors[name] = (dtype, shape, blob)
    return edit


def set_config(key, value):
    def edit(folder):
        path = folder / "config.json"
        config = json.loads(path.read_text())
        config[key] = value
        path.write_text(json.dumps(config))
    return edit


def on_tensors(edit):
    return lambda folder: edit_tensors(folder, edit)


CASES = {
    "scales-missing": ("tiny-gptoss", on_tensors(lambda t: t.pop(SCALES)),
                       [f"'{BLOCKS}' has no '{SCALES}' beside it"]),
    "blocks-unlike-scales": ("tiny-gptoss", on_tensors(reshape(BLOCKS, [4, 32, 4, 16])),
                             ["MXFP4 tensors", "are not [4, rows, groups, 16]"]),
    "blocks-not-u8": ("tiny-gptoss", on_tensors(retype(BLOCKS, "I8")), ["must be U8, not I8"]),
    "experts-unlike-config": ("tiny-gptoss", set_config("num_local_experts", 8),
                                    ["down_proj_bias' is [4, 64], not [8, out]"]),
    "gate-up-flat": ("tiny-gptoss-bf16",
                     on_tensors(reshape("model.layers.0.mlp.experts.gate_up_proj", [4, 8192])),
                     ["'model.layers.0.mlp.experts.gate_up_proj' is [4, 8192], not [4, in, out]"]),
    "llama4-experts-unlike-config": ("tiny-llama4", set_config("num_local_experts", 2),
                                     ["down_proj' is [4, 32, 64], not [2, in, out]"]),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_expert_layouts_are_refused(owl, tmp_path, case):
    name, edit, words = CASES[case]
    folder = gu.hf_copy(name, tmp_path)
    edit(folder)
    before = su.dir_snapshot(folder)
    out = tmp_path / "out.gguf"
    r = owl("convert", folder, "-o", out, "--dtype", "f16")
    assert r.returncode != 0, r.describe()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("owl: error: "), r.describe()
    assert str(folder) in lines[0], r.describe()
    for w in words:
        assert w in lines[0], r.describe()
    assert not out.exists() and list(tmp_path.glob("out.gguf*")) == []
    assert su.dir_snapshot(folder) == before
