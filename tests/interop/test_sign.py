"""owl sign / owl verify-signature against the OpenSSF model-signing package (PyPI
`model-signing` v1.x): a model signed by one verifies with the other, in key and certificate
mode, whole files and shards, and a tampered model (one byte changed, a file added or removed)
fails both ways. Keys and certificates are made here with `cryptography`."""

import base64
import datetime
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

model_signing = pytest.importorskip("model_signing")
from cryptography import x509  # noqa: E402  (installed with model-signing)
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TINY_HF = REPO / "tests" / "data" / "hf" / "tiny-llama3"
REFERENCE_GGUF = REPO / "tests" / "data" / "hf" / "reference" / "tiny-llama.q8_0.gguf"
CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}


def write_key_pair(folder: Path, curve) -> tuple:
    key = ec.generate_private_key(curve)
    private = folder / "key.pem"
    public = folder / "key.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture(params=sorted(CURVES))
def keys(request, tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    return write_key_pair(d, CURVES[request.param])


@pytest.fixture
def model(tmp_path) -> Path:
    """A Hugging Face folder (tiny-llama3) with a subfolder and git's files, which both signers
    leave out."""
    m = tmp_path / "tiny-llama3"
    shutil.copytree(TINY_HF, m)
    (m / "extra").mkdir()
    (m / "extra" / "notes.txt").write_text("trained on nothing\n")
    (m / ".git").mkdir()
    (m / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (m / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    return m


def first_weights(model: Path) -> Path:
    return sorted(model.glob("*.safetensors"))[0]


TAMPERS = {
    "one byte changed": lambda m: flip_byte(first_weights(m), 1000),
    "file added": lambda m: (m / "extra" / "added.bin").write_bytes(b"\0"),
    "file removed": lambda m: (m / "extra" / "notes.txt").unlink(),
}


def flip_byte(path: Path, offset: int):
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


def ms_sign_key(model: Path, private: Path, signature: Path, shard_size=None):
    hashing = model_signing.hashing.Config()
    if shard_size:
        hashing.use_shard_serialization(shard_size=shard_size)
    (model_signing.signing.Config().use_elliptic_key_signer(private_key=private)
     .set_hashing_config(hashing).sign(model, signature))


def ms_verify_key(model: Path, public: Path, signature: Path, shard_size=None):
    config = model_signing.verifying.Config().use_elliptic_key_verifier(public_key=public)
    if shard_size:
        config.set_hashing_config(
            model_signing.hashing.Config().use_shard_serialization(shard_size=shard_size))
    config.verify(model, signature)


def ms_verifies(model, public, signature, shard_size=None) -> bool:
    try:
        ms_verify_key(model, public, signature, shard_size)
        return True
    except ValueError:
        return False


def signed_statement(signature: Path) -> dict:
    bundle = json.loads(signature.read_text())
    return json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))


def test_owl_signature_verifies_with_model_signing(owl, model, keys, tmp_path):
    private, public = keys
    sig = tmp_path / "model.sig"
    r = owl("sign", model, "--private-key", private, "-o", sig)
    assert r.returncode == 0, r.describe()
    ms_verify_key(model, public, sig)
    names = [res["name"] for res in signed_statement(sig)["predicate"]["resources"]]
    assert "extra/notes.txt" in names and not any(n.startswith(".git") for n in names)


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampered_model_fails_both_ways(owl, model, keys, tmp_path, tamper):
    private, public = keys
    by_owl, by_ms = tmp_path / "owl.sig", tmp_path / "ms.sig"
    assert owl("sign", model, "--private-key", private, "-o", by_owl, "-q").returncode == 0
    ms_sign_key(model, private, by_ms)
    TAMPERS[tamper](model)
    assert not ms_verifies(model, public, by_owl)
    for sig in (by_owl, by_ms):
        r = owl("verify-signature", model, "-s", sig, "--public-key", public)
        assert r.returncode == 2, r.describe()
        assert "does not match its signature" in r.stderr, r.describe()
        assert len(r.stderr.strip().splitlines()) == 1, r.describe()


def test_model_signing_signature_verifies_with_owl(owl, model, keys, tmp_path):
    private, public = keys
    sig = tmp_path / "model.sig"
    ms_sign_key(model, private, sig)
    r = owl("verify-signature", model, "-s", sig, "--public-key", public)
    assert r.returncode == 0, r.describe()
    assert "verified: 4 files" not in r.stdout  # the count is the folder's, not a constant
    assert f"verified: {len(signed_statement(sig)['predicate']['resources'])} files" in r.stdout


def test_command_lines_with_signature_inside_the_folder(owl, model, tmp_path):
    """The `model_signing` CLI, as a user runs it: its default signature name inside the
    folder, which both sides leave out of the manifest."""
    private, public = write_key_pair(tmp_path, ec.SECP384R1())
    sig = model / "model.sig"
    assert owl("sign", model, "--private-key", private, "-o", sig).returncode == 0
    cli = [sys.executable, "-m", "model_signing"]
    p = subprocess.run(cli + ["verify", "key", str(model), "--signature", str(sig),
                              "--public_key", str(public)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    sig.unlink()
    p = subprocess.run(cli + ["sign", "key", str(model), "--signature", str(sig),
                              "--private_key", str(private)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r = owl("verify-signature", model, "--public-key", public, "-s", sig)
    assert r.returncode == 0, r.describe()


def test_single_file_model(owl, keys, tmp_path):
    private, public = keys
    gguf = tmp_path / REFERENCE_GGUF.name
    shutil.copy(REFERENCE_GGUF, gguf)
    r = owl("sign", gguf, "--private-key", private)
    assert r.returncode == 0, r.describe()
    sig = Path(str(gguf) + ".sig")
    ms_verify_key(gguf, public, sig)
    ms_sig = tmp_path / "ms.sig"
    ms_sign_key(gguf, private, ms_sig)
    assert owl("verify-signature", gguf, "-s", ms_sig, "--public-key", public).returncode == 0
    flip_byte(gguf, gguf.stat().st_size - 1)
    assert not ms_verifies(gguf, public, sig)
    r = owl("verify-signature", gguf, "--public-key", public)
    assert r.returncode == 2 and "changed: ." in r.stdout, r.describe()


def test_shards(owl, model, keys, tmp_path):
    """Files cut into shards (here of 4000 bytes, so the weights span several)."""
    private, public = keys
    by_owl, by_ms = tmp_path / "owl.sig", tmp_path / "ms.sig"
    r = owl("sign", model, "--private-key", private, "-o", by_owl, "--shard-size", "4000")
    assert r.returncode == 0, r.describe()
    ms_verify_key(model, public, by_owl, shard_size=4000)
    ms_sign_key(model, private, by_ms, shard_size=4000)
    r = owl("verify-signature", model, "-s", by_ms, "--public-key", public)
    assert r.returncode == 0, r.describe()
    flip_byte(first_weights(model), 5000)
    r = owl("verify-signature", model, "-s", by_ms, "--public-key", public)
    name = first_weights(model).name
    assert r.returncode == 2 and f"changed: {name}:4000:8000" in r.stdout, r.describe()
    assert not ms_verifies(model, public, by_owl, shard_size=4000)


def test_wrong_key_and_forged_statement(owl, model, tmp_path):
    private, public = write_key_pair(tmp_path, ec.SECP256R1())
    other = tmp_path / "other"
    other.mkdir()
    _, other_public = write_key_pair(other, ec.SECP256R1())
    sig = tmp_path / "model.sig"
    assert owl("sign", model, "--private-key", private, "-o", sig).returncode == 0

    r = owl("verify-signature", model, "-s", sig, "--public-key", other_public)
    assert r.returncode == 2 and "signed with another key" in r.stderr, r.describe()

    # A statement whose digests were changed to match a changed model, under the old signature.
    bundle = json.loads(sig.read_text())
    statement = signed_statement(sig)
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = tmp_path / "forged.sig"
    forged.write_text(json.dumps(bundle))
    r = owl("verify-signature", model, "-s", forged, "--public-key", public)
    assert r.returncode == 2 and "the signature does not verify" in r.stderr, r.describe()


@pytest.mark.parametrize("text", [
    "", "[]", "{", '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.2+json"}',
    '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": {}}',
    '{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial":'
    ' {"publicKey": {"hint": "x"}}, "dsseEnvelope": {"payload": "not base64!",'
    ' "payloadType": "application/vnd.in-toto+json", "signatures": [{"sig": "AA=="}]}}',
    "[" * 100000,
])
def test_hostile_signature_files(owl, model, tmp_path, text):
    _, public = write_key_pair(tmp_path, ec.SECP256R1())
    sig = tmp_path / "bad.sig"
    sig.write_text(text)
    r = owl("verify-signature", model, "-s", sig, "--public-key", public)
    assert r.returncode == 2, r.describe()
    assert r.stderr.startswith("owl: error: ") and len(r.stderr.splitlines()) == 1, r.describe()
    assert str(sig) in r.stderr, r.describe()


def make_certificates(folder: Path):
    """A root CA and a code-signing leaf certificate (P-256) for the leaf's key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "owl test root")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA384()))
    private, _ = write_key_pair(folder, ec.SECP256R1())
    key = serialization.load_pem_private_key(private.read_bytes(), None)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "owl signer")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .sign(ca_key, hashes.SHA384()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return private, folder / "leaf.pem", folder / "ca.pem"


def test_certificate_mode(owl, model, tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    private, leaf, ca = make_certificates(certs)
    by_owl, by_ms = tmp_path / "owl.sig", tmp_path / "ms.sig"
    r = owl("sign", model, "--private-key", private, "--certificate", leaf,
            "--certificate-chain", ca, "-o", by_owl)
    assert r.returncode == 0, r.describe()
    verifier = model_signing.verifying.Config().use_certificate_verifier(certificate_chain=[ca])
    verifier.verify(model, by_owl)
    (model_signing.signing.Config()
     .use_certificate_signer(private_key=private, signing_certificate=leaf,
                             certificate_chain=[ca]).sign(model, by_ms))
    r = owl("verify-signature", model, "-s", by_ms, "--certificate-chain", ca)
    assert r.returncode == 0, r.describe()

    # Another root does not vouch for the leaf; a tampered model fails in this mode too.
    other = tmp_path / "other"
    other.mkdir()
    _, _, other_ca = make_certificates(other)
    r = owl("verify-signature", model, "-s", by_ms, "--certificate-chain", other_ca)
    assert r.returncode == 2 and "does not chain to a trusted one" in r.stderr, r.describe()
    flip_byte(first_weights(model), 10)
    r = owl("verify-signature", model, "-s", by_owl, "--certificate-chain", ca)
    assert r.returncode == 2 and "does not match its signature" in r.stderr, r.describe()
