#!/usr/bin/env python3
"""Makes the model-card fixtures: README.md front matter in the YAML shapes real cards use, and
what llama.cpp's gguf-py reads from each.

  <name>.md      a README.md; the cards are written here, modelled on the front matter of
                 Google's Gemma and Meta's Llama cards (the text is made up): values continued on
                 the next line, multi-line double-quoted strings (with Meta's backslash
                 continuations), block scalars (| and >), lists in block and flow style, lists
                 of mappings, a nested mapping; and some cards PyYAML refuses
  expected.json  {name: {"front_matter": what gguf.metadata.Metadata.load_model_card returns
                 (null when it raises), "error": the exception's type or null}}

tests/converters/model_card_test.cpp checks owl's reading of every card against expected.json;
tests/interop/test_model_card.py converts a model beside each card and compares the general.*
keys with what gguf-py derives from the same folder.

  python3 make_cards.py        (needs gguf-py and PyYAML: ~/.cache/owl/venv/bin/python3)
"""

import json
import sys
import tempfile
from pathlib import Path

import gguf.metadata

HERE = Path(__file__).resolve().parent

CARDS = {
    # Google's shape: gating text folded with >-, a heading continued on the next line, a
    # multi-line double-quoted string, one base model, a block list of tags.
    "google_style": """\
---
license: gemma
library_name: transformers
pipeline_tag: text-generation
description: A small instruction-tuned model that answers questions and
  follows short instructions; it continues on this line
  and on this one.
extra_gated_heading: "Read the terms of the
  tiny model first"
extra_gated_prompt: >-
  To use this model you agree to the terms that come with it. Please
  sign in and press the button below; requests are

  granted at once.
extra_gated_button_content: I agree
base_model: google/tiny-model-2b
tags:
- conversational
- text-generation-inference
---

# Tiny model

Body text, not front matter: key: value lines here are not read.
""",
    # Meta's shape: a block list of languages, a flow list of tags, a long double-quoted string
    # with \\n escapes and backslash line continuations, a nested mapping of form fields.
    "meta_style": """\
---
language:
- en
- de
- fr
- hi
- no
library_name: transformers
license: other
license_name: tiny-community-license
license_link: LICENSE
base_model:
- org/Tiny-Base-8B
- https://huggingface.co/org/Tiny-Instruct-8B
tags: [facebook, meta, pytorch, "tiny-3"]
extra_gated_prompt: "### TINY COMMUNITY LICENSE\\nRelease date: July 2024\\n\\\"Agreement\\\"\\
  \\ means the terms written\\
  \\ here.\\n\\nSecond paragraph with a tab:\\tend."
extra_gated_fields:
  First Name: text
  Job title:
    type: select
    options:
    - Student
    - Other
  geo: ip_location
extra_gated_description: The information you give is handled as the
  [privacy policy](https://example.com/privacy) says.
extra_gated_button_content: Submit
---
# Tiny 3
""",
    # Every scalar and list style in one card: literal and folded block scalars with chomping
    # indicators, plain and quoted keys, comments, flow and block lists, lists of mappings,
    # empty and null values, a repeated key, an anchor and alias, a merge key, CRLF line ends.
    # (Not `>+`: yaml-cpp 0.7 drops the blank lines a folded scalar keeps; PyYAML keeps them.)
    "yaml_styles": (
        "---\r\n"
        "# a comment line\r\n"
        "model_name: Tiny Styles   # trailing comment\r\n"
        "'model_author': 'O''Brien'\r\n"
        "model_version: \"v1.5\"\r\n"
        "model_description: |\r\n"
        "  First line.\r\n"
        "    indented line\r\n"
        "\r\n"
        "  after a blank line\r\n"
        "model_finetune: |+\r\n"
        "  kept trailing\r\n"
        "  newlines\r\n"
        "\r\n"
        "license: [mit, apache-2.0]\r\n"
        "datasets:\r\n"
        "  - name: Tiny Corpus\r\n"
        "    organization: Tiny Org\r\n"
        "    url: https://example.com/corpus\r\n"
        "    extra: [ignored]\r\n"
        "  - org/another-set\r\n"
        "  - {name: Flow Set, version: v2}\r\n"
        "languages: &langs\r\n"
        "  - en\r\n"
        "language: *langs\r\n"
        "pipeline_tag: text-generation\r\n"
        "tags:\r\n"
        "empty_value:\r\n"
        "quoted_null: \"null\"\r\n"
        "repo_url: https://example.com/first\r\n"
        "repo_url: https://example.com/second\r\n"
        "defaults: &defaults\r\n"
        "  organization: Merged Org\r\n"
        "<<: *defaults\r\n"
        "---\r\n"
    ),
    # PyYAML refuses these; owl warns and goes on without the card.
    "broken_quote": """\
---
license: mit
description: "a quoted string that
  never ends
---
# body
""",
    "broken_indent": """\
---
license: mit
tags:
- a
  - b: c
 bad: indent
---
""",
    "not_a_mapping": """\
---
- just
- a list
---
""",
}


def load(text):
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "README.md").write_text(text, encoding="utf-8", newline="")
        try:
            return gguf.metadata.Metadata.load_model_card(Path(d)), None
        except Exception as e:  # what convert_hf_to_gguf.py would stop on
            return None, type(e).__name__


def main():
    expected = {}
    for name, text in CARDS.items():
        (HERE / f"{name}.md").write_bytes(text.encode("utf-8"))
        front_matter, error = load(text)
        expected[name] = {"front_matter": front_matter, "error": error}
    (HERE / "expected.json").write_text(
        json.dumps(expected, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    print(f"wrote {len(CARDS)} cards and expected.json to {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
