#!/usr/bin/env bash
# Makes the model-signature fixtures: a P-256 key pair (for tests only), and signatures of
# tests/data/hf/tiny-llama3 made by the OpenSSF `model_signing` package (whole files and 4000-byte
# shards) and by owl. The unit tests verify them with owl; tools/fuzz.sh seeds fuzz_signature
# with them.
#   tests/data/signing/make_fixtures.sh   (needs build/bin/owl, openssl and the interop venv)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$HERE/../../.."
PY="${PYTHON:-$HOME/.cache/owl/venv/bin/python}"
MODEL="$ROOT/tests/data/hf/tiny-llama3"
cd "$HERE"
openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out test-key.pem
openssl ec -in test-key.pem -pubout -out test-key.pub.pem 2>/dev/null
"$PY" - "$MODEL" <<'PY'
import sys
import model_signing
model = sys.argv[1]
for name, hashing in [("tiny-llama3.model_signing.sig", model_signing.hashing.Config()),
                      ("tiny-llama3.model_signing.shards.sig",
                       model_signing.hashing.Config().use_shard_serialization(shard_size=4000))]:
    (model_signing.signing.Config().use_elliptic_key_signer(private_key="test-key.pem")
     .set_hashing_config(hashing).sign(model, name))
PY
"$ROOT/build/bin/owl" sign "$MODEL" --private-key test-key.pem -o tiny-llama3.owl.sig
