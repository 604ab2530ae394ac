#!/usr/bin/env python3
"""Write a Hugging Face tokenizer.json as big as the largest ones people download (Gemma 3's:
262,144 tokens and about 515k merges, 33 MB), for benchmarking how fast owl reads a tokenizer.

It takes a real byte-level BPE tokenizer.json as the template (its normalizer, pre-tokenizer,
decoder and added tokens) and replaces the vocabulary and merges: every token is a merge of two
shorter ones, as a trained BPE vocabulary is, so the file is one owl and transformers accept.

  make_big_tokenizer.py TEMPLATE_TOKENIZER_JSON OUT_JSON [--vocab 262144] [--merges-per-token 2]
"""
import argparse
import json
import random


def main():
    p = argparse.ArgumentParser()
    p.add_argument("template")
    p.add_argument("out")
    p.add_argument("--vocab", type=int, default=262144)
    p.add_argument("--merges-per-token", type=float, default=1.96)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = random.Random(a.seed)
    t = json.load(open(a.template, encoding="utf-8"))
    added = {tok["content"] for tok in t.get("added_tokens", [])}
    # The byte-level alphabet: the template's single-character tokens.
    alphabet = [tok for tok in t["model"]["vocab"] if len(tok) == 1 and tok not in added]
    vocab, merges, tokens = {}, [], []
    for ch in alphabet:
        vocab[ch] = len(vocab)
        tokens.append(ch)
    n_words = a.vocab - len(added)
    while len(vocab) < n_words:
        left = tokens[rng.randrange(len(tokens))] if rng.random() < 0.7 else rng.choice(alphabet)
        right = rng.choice(alphabet)
        word = left + right
        if word in vocab or len(word) > 16:
            continue
        vocab[word] = len(vocab)
        tokens.append(word)
        merges.append([left, right])
    # More ways to build the longer tokens, as a converted SentencePiece model lists them.
    want = int(a.merges_per_token * a.vocab)
    seen = {tuple(m) for m in merges}
    for word in tokens:
        if len(merges) >= want:
            break
        for cut in range(1, len(word)):
            pair = (word[:cut], word[cut:])
            if pair[0] in vocab and pair[1] in vocab and pair not in seen:
                seen.add(pair)
                merges.append(list(pair))
    next_id = len(vocab)
    for tok in t.get("added_tokens", []):
        tok["id"] = next_id
        next_id += 1
    t["model"]["vocab"] = vocab
    t["model"]["merges"] = merges
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(t, f, ensure_ascii=False)
    print(f"{a.out}: {next_id} tokens, {len(merges)} merges")


if __name__ == "__main__":
    main()
