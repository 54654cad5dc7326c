"""Writes deploy/k8s/base/secrets/: SealedSecrets whose values are fresh random secrets, sealed the
way ``kubeseal`` seals them, for a certificate: ``python -m agora.deploy.seal --cert CERT.pem``.

kubeseal needs a cluster's controller; this does the same encryption offline (Sealed Secrets'
hybrid scheme, strict scope: RSA-OAEP-SHA256 of a one-use AES-256 key, labelled
``namespace/name``, then AES-GCM of the value with a zero nonce; the ``cryptography`` library does
the cryptography, this module only lays out the bytes as the controller reads them). The values are
never written anywhere else: nobody knows them, so the committed files are worth exactly as much as
the certificate they were sealed for. Without ``--cert`` a throwaway certificate is made (its
private key discarded): the repository's files then decrypt nowhere, and a cluster needs them
sealed again with its own certificate (docs/deploy.md, "Secrets").
"""

from __future__ import annotations

import argparse
import base64
import datetime
import os
import secrets
import struct
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from agora.deploy.graph import NODES, Store
from agora.deploy.k8s import HEADER, NAMESPACE, ROOT, kustomization, meta

SECRETS_DIR = ROOT / "base" / "secrets"


def secret_keys() -> dict[str, list[str]]:
    """Secret name -> the files it holds (read through AGORA_SECRETS_DIR by the services)."""
    keys = {"agora-platform": ["AGORA_SECRET_KEY", "AGORA_SERVICE_SECRET"]}
    for node in NODES:
        if node.owns_database:
            keys[f"agora-{node.name}-db"] = [f"AGORA_{node.name.upper()}_DATABASE_PASSWORD"]
        if Store.s3 in node.stores:
            keys["agora-s3"] = ["AGORA_MEDIA_S3_ACCESS_KEY_ID", "AGORA_MEDIA_S3_SECRET_ACCESS_KEY"]
        if Store.smtp in node.stores:
            keys["agora-smtp"] = ["AGORA_NOTIFICATIONS_SMTP_USERNAME", "AGORA_NOTIFICATIONS_SMTP_PASSWORD"]
    return keys


def seal(public_key: rsa.RSAPublicKey, namespace: str, name: str, value: bytes) -> str:
    session_key = AESGCM.generate_key(bit_length=256)
    label = f"{namespace}/{name}".encode()
    wrapped = public_key.encrypt(
        session_key, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label)
    )
    # the key is used once, so the controller's zero nonce is safe
    sealed = AESGCM(session_key).encrypt(b"\0" * 12, value, None)
    return base64.b64encode(struct.pack(">H", len(wrapped)) + wrapped + sealed).decode("ascii")


def throwaway_certificate() -> x509.Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agora throwaway sealed-secrets")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def sealed_secret(public_key: rsa.RSAPublicKey, name: str, keys: list[str]) -> dict[str, Any]:
    data = {key: seal(public_key, NAMESPACE, name, secrets.token_urlsafe(48).encode()) for key in keys}
    return {
        "apiVersion": "bitnami.com/v1alpha1",
        "kind": "SealedSecret",
        "metadata": {**meta(name, "secret"), "namespace": NAMESPACE},
        "spec": {"encryptedData": data, "template": {"metadata": meta(name, "secret"), "type": "Opaque"}},
    }


def main(argv: list[str] | None = None) -> int:
    # not the module docstring: python -OO (the image's level) drops it
    parser = argparse.ArgumentParser(description="Writes deploy/k8s/base/secrets/: SealedSecrets of fresh secrets.")
    parser.add_argument("--cert", type=Path, help="The controller's certificate (kubeseal --fetch-cert).")
    args = parser.parse_args(argv)
    if args.cert:
        certificate = x509.load_pem_x509_certificate(args.cert.read_bytes())
    else:
        certificate = throwaway_certificate()
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):  # the sealing scheme encrypts with RSA-OAEP
        parser.error(f"{args.cert}: the certificate's key is not an RSA key")
    SECRETS_DIR.mkdir(parents=True, exist_ok=True)
    files = []
    for name, keys in secret_keys().items():
        path = SECRETS_DIR / f"{name}.yaml"
        path.write_text(
            HEADER.replace("agora.deploy.k8s", "agora.deploy.seal")
            + yaml.safe_dump(sealed_secret(public_key, name, keys), sort_keys=False, width=120)
        )
        files.append(path.name)
    (SECRETS_DIR / "kustomization.yaml").write_text(HEADER + yaml.safe_dump(kustomization(files), sort_keys=False))
    (SECRETS_DIR / "sealed-for.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    os.chmod(SECRETS_DIR / "sealed-for.pem", 0o644)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
