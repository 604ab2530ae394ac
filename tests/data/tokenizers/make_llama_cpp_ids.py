#!/usr/bin/env python3
"""Makes llama_cpp_ids.json in the byte-level BPE fixture folders: llama.cpp's token ids for a set
of texts, which tests/validate/text_tokenizer_test.cpp compares owl's text tokenizer with.

For each folder, owl converts the fixture's tokenizer into a GGUF (beside the weights of the tiny
model of the same family in tests/data/hf, since `owl convert` wants weights: the token list is
padded with unused [PAD] tokens to that model's embedding rows, which plain text never
produces), and llama.cpp, through llama-cpp-python, tokenizes each text as
llama_tokenize(add_special=False, parse_special=False) does.

  python3 make_llama_cpp_ids.py [--owl build/bin/owl]           # rewrites the files
  python3 make_llama_cpp_ids.py [--owl build/bin/owl] --check   # exits 1 if one differs

The committed files were made with llama-cpp-python 0.3.36. tests/interop/test_text_tokenizer.py
runs the --check comparison.

Needs: llama-cpp-python, and a built owl.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
HF = REPO / "tests" / "data" / "hf"

# fixture folder -> the tiny model whose weights carry it through `owl convert`
FIXTURES = {"llama3_bpe": "tiny-llama3", "qwen2_bpe": "tiny-qwen2"}

# Texts that reach every branch of the pre-tokenizers and of the merges. Bytes, so that
# ill-formed UTF-8 can be among them.
TEXTS = [
    b"",
    b"The owl sat on the old oak tree and looked at the moon.",
    b"Hello world",
    b" leading space, trailing space ",
    b"Numbers: 1 12 123 1234 12345678 3.14159 1,000,000 and 2048.",
    b"it's I'M you're THEY'RE we've I'll he'd can't 'tis O'Neil ''quoted''",
    b"'S 'T 'Re 'rE 'VE 'Ll 'lL 'D 'M 'x '",
    b"multiple   spaces    here\tand\ttabs\t\tdouble",
    b"line one\nline two\n\nline four\r\nwindows\r\n\r\nend\n",
    b"  \n  \n\n   indented\n\t\tcode\n    return x  \n",
    b"trailing spaces   ",
    b"   ",
    b"\n",
    b"\t",
    "日本語のテキストと中文字符，还有한국어".encode(),
    "emoji 🦉🌙✨ and a family 👨‍👩‍👧 and flags 🇫🇷".encode(),
    "Café Zürich — naïve façade; Ünïcödé wörds; ǅ Ω ﬁ x\u0301".encode(),
    "Привет, мир! مرحبا שלום".encode(),
    b"punctuation!!! ... ?!? --- *** ### $$$ ((nested)) [[x]] {{y}} <<<>>> `code` ~~~ |||",
    b"a+b=c; x<=y; f(x)->g(y); arr[0]++; #include <stdio.h>",
    "non-ASCII spaces:\u00a0nbsp\u2003em\u3000ideographic\u0085nel\u2028ls".encode(),
    "digits in other scripts: ٣٤٥ ५६७ Ⅻ ½ ² ³".encode(),
    b"special tokens as text: <|endoftext|> <|im_start|>user<|im_end|> <|begin_of_text|>",
    b"an added token: <tool_call>{\"name\": \"f\"}</tool_call> and <tool_call><tool_call>",
    b"words the tokenizer never saw: xyzzy QWERTY zzzzzz owlowlowl",
    b"ill-formed UTF-8: \xff\xfe bytes \x80 stray \xc3 cut \xe4\xb8 cut \xf0\x9f cut",
    b"overlong \xc0\x80 and \xe0\x80\x80, surrogate \xed\xa0\x80, max \xf4\x8f\xbf\xbf",
    b"control chars \x00 \x01 \x1f \x7f and \x0b\x0c",
]


def tokenizer_gguf(owl, fixture, tmp):
    """owl's GGUF of the fixture's tokenizer (with the family's tiny weights)."""
    folder = tmp / fixture
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(HF / FIXTURES[fixture] / name, folder / name)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(HERE / fixture / name, folder / name)
    out = tmp / f"{fixture}.gguf"
    subprocess.run([str(owl), "convert", str(folder), "-o", str(out), "--quiet"], check=True)
    return out


def llama_cpp_ids(gguf_path):
    from llama_cpp import Llama

    vocab = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
    cases = []
    for text in TEXTS:
        case = {"hex": text.hex()}
        try:
            case["text"] = text.decode("utf-8")
        except UnicodeDecodeError:
            pass  # ill-formed: only the bytes
        case["ids"] = vocab.tokenize(text, add_bos=False, special=False)
        cases.append(case)
    return cases


def render(fixture, cases):
    """One case a line, so that a change shows as the cases it touches."""
    about = (f"llama.cpp's token ids for texts in owl's GGUF of {fixture}: "
             "llama_tokenize(add_special=false, parse_special=false); made by make_llama_cpp_ids.py")
    lines = [json.dumps(c, ensure_ascii=False, separators=(", ", ": ")) for c in cases]
    return ('{"about": ' + json.dumps(about) + ',\n "cases": [\n  ' + ",\n  ".join(lines) +
            "\n]}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--owl", type=Path, default=REPO / "build" / "bin" / "owl")
    ap.add_argument("--check", action="store_true", help="compare with the committed files only")
    args = ap.parse_args()
    differs = []
    with tempfile.TemporaryDirectory() as tmp:
        for fixture in FIXTURES:
            text = render(fixture, llama_cpp_ids(tokenizer_gguf(args.owl, fixture, Path(tmp))))
            path = HERE / fixture / "llama_cpp_ids.json"
            if args.check:
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    differs.append(str(path))
            else:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path}")
    for path in differs:
        print(f"{path}: differs from what llama.cpp gives now", file=sys.stderr)
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
