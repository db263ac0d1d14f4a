"""JOSE helpers for the integration tests: keys made with the openssl command line (installed
by scripts/setup.sh), JWK forms of them, and compact JWS signing and verification."""

import base64
import json
import os
import subprocess
import tempfile

# DER prefixes of an Ed25519 SubjectPublicKeyInfo and PKCS#8 private key (RFC 8410): the 32
# key bytes follow.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {r.stderr.decode()}")
    return r.stdout


class Key:
    """A signing key made with openssl (kind "EdDSA" or "RS256"), its public JWK, and JWS signing."""

    def __init__(self, folder, kind, kid):
        self.kind, self.kid = kind, kid
        fd, self.pem = tempfile.mkstemp(suffix=".pem", dir=folder)  # kids may repeat: files must not
        os.close(fd)
        if kind == "EdDSA":
            openssl("genpkey", "-algorithm", "ed25519", "-out", self.pem)
            der = openssl("pkey", "-in", self.pem, "-pubout", "-outform", "DER")
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64url(der[-32:])}
        else:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.pem)
            modulus = openssl("rsa", "-in", self.pem, "-noout", "-modulus").decode().strip().split("=", 1)[1]
            self.jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                        "n": b64url(bytes.fromhex(modulus)), "e": "AQAB"}

    @classmethod
    def ed25519_from_seed(cls, folder, seed, kid):
        """The Ed25519 key whose 32-byte private seed is `seed` (e.g. read from a leaked store)."""
        key = cls.__new__(cls)
        key.kind, key.kid = "EdDSA", kid
        fd, der = tempfile.mkstemp(suffix=".der", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(_ED25519_PKCS8_PREFIX + seed)
        fd, key.pem = tempfile.mkstemp(suffix=".pem", dir=folder)
        os.close(fd)
        openssl("pkey", "-inform", "DER", "-in", der, "-out", key.pem)
        pub = openssl("pkey", "-in", key.pem, "-pubout", "-outform", "DER")
        key.jwk = {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64url(pub[-32:])}
        return key

    def sign(self, signing_input):
        path = self.pem + ".in"
        with open(path, "wb") as f:
            f.write(signing_input)
        if self.kind == "EdDSA":
            return openssl("pkeyutl", "-sign", "-inkey", self.pem, "-rawin", "-in", path)
        return openssl("dgst", "-sha256", "-sign", self.pem, "-binary", path)


    def jws(self, header, payload):
        """A compact JWS of the two JSON objects, signed with this key."""
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())).encode()
        return signing_input.decode() + "." + b64url(self.sign(signing_input))


def verify_ed25519_jws(jws, jwk, folder):
    """True when the compact JWS `jws` verifies with the Ed25519 JWK `jwk` (openssl, not our code)."""
    head, payload, sig = jws.split(".")
    fd, pub = tempfile.mkstemp(suffix=".der", dir=folder)
    with os.fdopen(fd, "wb") as f:
        f.write(_ED25519_SPKI_PREFIX + b64url_decode(jwk["x"]))
    data, sigfile = pub + ".in", pub + ".sig"
    with open(data, "wb") as f:
        f.write(f"{head}.{payload}".encode())
    with open(sigfile, "wb") as f:
        f.write(b64url_decode(sig))
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub,
                        "-rawin", "-in", data, "-sigfile", sigfile], capture_output=True, timeout=60)
    return r.returncode == 0
