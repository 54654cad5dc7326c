"""The access-token battery against the chassis verifier: every forgery is refused."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from agora.platform.auth import InvalidToken, TokenVerifier
from agora.platform.auth.keys import generate_private_key, jwks_document, mint_access_token, public_jwk

KEY = generate_private_key()
OTHER_KEY = generate_private_key()
ISSUER, AUDIENCE = "agora-identity", "agora"


def verifier(keys=(KEY,)) -> TokenVerifier:  # type: ignore[no-untyped-def]
    async def fetch():  # type: ignore[no-untyped-def]
        return jwks_document(keys)

    return TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=30)


def good(**kwargs) -> str:  # type: ignore[no-untyped-def]
    kwargs.setdefault("issuer", ISSUER)
    kwargs.setdefault("audience", AUDIENCE)
    return mint_access_token(KEY, subject="u1", roles=["admin"], **kwargs)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides):  # type: ignore[no-untyped-def]
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "typ": "access",
        "roles": ["admin"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload, *, key=KEY, headers=None) -> str:  # type: ignore[no-untyped-def]
    return jwt.encode(payload, key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"], **(headers or {})})


def unsigned(header, payload) -> str:  # type: ignore[no-untyped-def]
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."


async def test_a_good_token_verifies() -> None:
    subject = await verifier().verify(good())
    assert subject.id == "u1" and subject.has_role("admin")


PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
KID = public_jwk(KEY)["kid"]


def hs256_with_public_key() -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": KID}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    import hashlib
    import hmac

    signature = hmac.new(PUBLIC_PEM, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


FORGERIES = {
    "alg none": lambda: unsigned({"alg": "none", "kid": KID}, claims()),
    "alg noNE": lambda: unsigned({"alg": "noNE", "kid": KID}, claims()),
    "hs256 with the public key": hs256_with_public_key,
    "kid path traversal": lambda: signed(claims(), headers={"kid": "../../../../etc/passwd"}),
    "foreign jku": lambda: signed(claims(), key=OTHER_KEY, headers={"jku": "https://evil.example/jwks.json"}),
    "signed by an unknown key": lambda: signed(claims(), key=OTHER_KEY),
    "expired beyond skew": lambda: signed(claims(exp=int(time.time()) - 120, iat=int(time.time()) - 900)),
    "nbf in the future": lambda: signed(claims(nbf=int(time.time()) + 600)),
    "wrong issuer": lambda: signed(claims(iss="someone-else")),
    "wrong audience": lambda: signed(claims(aud="other-api")),
    "missing audience": lambda: signed(claims(aud=None)),
    "refresh token as access": lambda: signed(claims(typ="refresh")),
    "missing typ": lambda: signed(claims(typ=None)),
    "stripped signature": lambda: good().rsplit(".", 1)[0] + ".",
    "garbage": lambda: "not.a.jwt",
    "roles not a list": lambda: signed(claims(roles="admin")),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
async def test_forgeries_are_refused(name: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(FORGERIES[name]())


async def test_unknown_kid_refreshes_the_jwks_once() -> None:
    keys = [KEY]
    calls = 0

    async def fetch():  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return jwks_document(keys)

    current = 1000.0
    verifier_ = TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE, clock=lambda: current)
    await verifier_.verify(good())
    keys.append(OTHER_KEY)  # identity rotated: the new key must be picked up on first sight
    current += 60
    rotated = mint_access_token(OTHER_KEY, subject="u2", roles=[], issuer=ISSUER, audience=AUDIENCE)
    assert (await verifier_.verify(rotated)).id == "u2"
    assert calls == 2
    # forged kids cannot make us refetch in a loop
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await verifier_.verify(signed(claims(), key=generate_private_key()))
    assert calls == 2


async def test_a_token_is_checked_once_then_remembered_until_it_expires() -> None:
    now = [time.time()]
    fetches = 0

    async def fetch():  # type: ignore[no-untyped-def]
        nonlocal fetches
        fetches += 1
        return jwks_document([KEY])

    verifier_ = TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=0, clock=lambda: now[0])
    token = mint_access_token(KEY, subject="u-1", roles=["customer"], issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60)
    first = await verifier_.verify(token)
    verifier_._keys = {}  # were the signature checked again, the key would have to be fetched again
    assert await verifier_.verify(token) == first
    assert fetches == 1
    now[0] += 61  # past its expiry (on the verifier's clock): forgotten, checked again from scratch
    await verifier_.verify(token)
    assert fetches == 2


async def test_a_refused_token_is_never_remembered() -> None:
    verifier_ = verifier()
    forged = signed(claims(), key=generate_private_key())
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier_.verify(forged)
    assert forged not in verifier_._verified
