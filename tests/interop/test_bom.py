"""owl bom: a CycloneDX 1.6 ML-BOM that cyclonedx-python-lib's strict JSON-schema validator
accepts, for GGUFs written by owl, by llama.cpp's converter (tests/data/hf/reference/) and by
gguf-py's metadata writer (with a lineage), and whose hashes, model card and pedigree say what
the file says."""

import hashlib
import json
import shutil
from pathlib import Path

import gguf
import gguf.metadata
import pytest

import gguf_util as gu

cyclonedx_validation = pytest.importorskip("cyclonedx.validation.json")
from cyclonedx.schema import SchemaVersion  # noqa: E402

REFERENCE = gu.REPO / "tests" / "data" / "hf" / "reference"
CARDS = gu.REPO / "tests" / "data" / "model_cards"


def make_bom(owl, model: Path, out: Path) -> dict:
    r = owl("bom", model, "-o", out)
    assert r.returncode == 0, r.describe()
    text = out.read_text()
    error = cyclonedx_validation.JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, f"{model.name}: {error}"
    return json.loads(text)


def model_component(bom: dict) -> dict:
    [c] = bom["components"]
    assert c["type"] == "machine-learning-model"
    return c


def tensor_type_counts(path: Path) -> dict:
    counts = {}
    for t in gu.reader(path).tensors:
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    return counts


def card_properties(c: dict) -> dict:
    return {p["name"]: p["value"] for p in c["modelCard"].get("properties", [])}


def check_against_file(bom: dict, path: Path):
    c = model_component(bom)
    assert c["hashes"] == [{"alg": "SHA-256",
                            "content": hashlib.sha256(path.read_bytes()).hexdigest()}]
    fields = gu.reader(path).fields
    arch = bytes(fields["general.architecture"].parts[-1]).decode()
    params = c["modelCard"]["modelParameters"]
    assert params["architectureFamily"] == arch
    assert params["task"] == "text-generation"
    props = card_properties(c)
    want = {f"owl:quantization:tensors:{t}": str(n) for t, n in tensor_type_counts(path).items()}
    assert {k: v for k, v in props.items() if k.startswith("owl:quantization:tensors:")} == want


@pytest.mark.parametrize("name", ["tiny-llama.q8_0.gguf", "tiny-llama3.f16.gguf",
                                  "tiny-mixtral.f16.gguf"])
def test_llama_cpp_converter_output(owl, tmp_path, name):
    path = REFERENCE / name
    bom = make_bom(owl, path, tmp_path / "bom.cdx.json")
    check_against_file(bom, path)
    file_type = card_properties(model_component(bom))["owl:quantization:file_type"]
    assert file_type == {"q8_0": "Q8_0", "f16": "F16"}[name.split(".")[1]]


def test_owl_quantized_output_with_lineage(owl, tmp_path):
    """A folder with a model card that names two base models, quantized by owl to Q4_K_M."""
    folder = gu.hf_copy("tiny-llama3", tmp_path)
    shutil.copyfile(CARDS / "meta_style.md", folder / "README.md")
    out = tmp_path / "q4.gguf"
    r = owl("quantize", folder, "-t", "Q4_K_M", "-o", out)
    assert r.returncode == 0, r.describe()
    bom = make_bom(owl, out, tmp_path / "bom.cdx.json")
    check_against_file(bom, out)
    c = model_component(bom)
    assert card_properties(c)["owl:quantization:file_type"] == "Q4_K_M"
    ancestors = c["pedigree"]["ancestors"]
    purls = sorted(a.get("purl") for a in ancestors)
    assert purls == ["pkg:huggingface/org/Tiny-Base-8B", "pkg:huggingface/org/Tiny-Instruct-8B"]
    # Deterministic: the same file gives the same bytes.
    again = tmp_path / "again.cdx.json"
    assert owl("bom", out, "-o", again).returncode == 0
    assert again.read_bytes() == (tmp_path / "bom.cdx.json").read_bytes()


def test_gguf_py_lineage_and_source(owl, tmp_path):
    """Lineage keys as gguf-py's own metadata writer puts them (a base model with a version and
    a commit URL, and the source repository), on a one-tensor GGUF."""
    path = tmp_path / "lineage.gguf"
    w = gguf.GGUFWriter(path, "llama")
    meta = gguf.metadata.Metadata(name="Lineage Test", source_repo_url="https://huggingface.co/src/Model",
                                  base_models=[{"name": "Base", "organization": "Org",
                                                "version": "v2",
                                                "repo_url": "https://huggingface.co/Org/Base"}])
    meta.set_gguf_meta_model(w)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tensor("token_embd.weight", __import__("numpy").zeros((4, 8), dtype="float32"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    bom = make_bom(owl, path, tmp_path / "bom.cdx.json")
    c = model_component(bom)
    assert c["name"] == "Lineage Test"
    by_relation = {a["properties"][0]["value"]: a for a in c["pedigree"]["ancestors"]}
    assert by_relation["base model"]["purl"] == "pkg:huggingface/Org/Base"
    assert by_relation["base model"]["version"] == "v2"
    assert by_relation["base model"]["publisher"] == "Org"
    assert by_relation["source"]["purl"] == "pkg:huggingface/src/Model"


def test_bad_input_is_one_line(owl, tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 20)
    out = tmp_path / "bom.cdx.json"
    r = owl("bom", bad, "-o", out)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.describe()
    assert not out.exists()
