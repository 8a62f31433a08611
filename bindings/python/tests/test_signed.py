"""Signed envelopes (Identity.sign, Trust.verify_signed): a device signs,
any holder of the fleet's anchor verifies and learns the certified sender;
tampered, re-routed, truncated, oversized, foreign and revoked envelopes are
refused, each with its own exception."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Tuple

import pytest

import pqc_iiot
from pqc_iiot import (SIGNED_MAX_CONTENT, CertificateAuthority, Identity,
                      InvalidArgumentError, PolicyError, RevokedError, SignedMessage,
                      Trust, UntrustedError, VerificationError)

CONTEXT = "plant/line1/boiler-3"
READING = b'{"temperature": 71.5}'


def _fleet(tmp: Path, name: str) -> Tuple[CertificateAuthority, Identity, Trust]:
    ca = CertificateAuthority.create(tmp / f"{name}-ca.store", name,
                                     raw_key=pqc_iiot.random_bytes(32))
    dev = Identity.create(tmp / f"{name}-dev.store", "sensor-1",
                          raw_key=pqc_iiot.random_bytes(32))
    ca.allow("sensor-1", dev.factory_public_key)
    dev.install(ca.enroll(dev.join_request()), anchor=ca.certificate)
    policy, revocations = ca.sign_policy(ttl_seconds=3600), ca.revoke([])
    dev.apply_policy(policy)
    dev.apply_revocation(revocations)
    trust = Trust(ca.certificate)
    trust.apply_policy(policy)
    trust.apply_revocation(revocations)
    return ca, dev, trust


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Tuple[CertificateAuthority, Identity, Trust]]:
    ca, dev, trust = _fleet(tmp_path, "plant-root")
    yield ca, dev, trust
    for h in (trust, dev, ca):
        h.close()


def test_sign_and_verify(fleet) -> None:
    _, dev, trust = fleet
    env = dev.sign(CONTEXT, READING)
    got = trust.verify_signed(env, CONTEXT)
    assert isinstance(got, SignedMessage)
    assert (got.sender, got.content) == ("sensor-1", READING)
    assert got.signed_at > 1_700_000_000
    # The device's own trust state verifies it too, any number of times.
    assert dev.verify_signed(env, CONTEXT) == got
    assert trust.verify_signed(dev.sign("", b""), "").content == b""
    assert len(trust.verify_signed(dev.sign(CONTEXT, bytes(SIGNED_MAX_CONTENT)),
                                   CONTEXT).content) == SIGNED_MAX_CONTENT


def _flip(b: bytes, i: int) -> bytes:
    m = bytearray(b)
    m[i] ^= 1
    return bytes(m)


@pytest.mark.parametrize("case, error", [
    ("tampered content", VerificationError),
    ("tampered signature", VerificationError),
    ("other context", UntrustedError),
    ("truncated", InvalidArgumentError),
    ("not an envelope", InvalidArgumentError),
])
def test_refusals(fleet, case: str, error: type) -> None:
    _, dev, trust = fleet
    env = dev.sign(CONTEXT, READING)
    context = CONTEXT
    if case == "tampered content":
        env = _flip(env, env.index(READING) + 2)
    elif case == "tampered signature":
        env = _flip(env, len(env) - 9)
    elif case == "other context":
        context = "plant/line2/boiler-3"
    elif case == "truncated":
        env = env[: len(env) // 2]
    elif case == "not an envelope":
        env = dev.announcement(CONTEXT)
    with pytest.raises(error):
        trust.verify_signed(env, context)


def test_oversized_content_is_refused(fleet) -> None:
    _, dev, _ = fleet
    with pytest.raises(InvalidArgumentError):
        dev.sign(CONTEXT, bytes(SIGNED_MAX_CONTENT + 1))


def test_foreign_fleet_revoked_key_and_missing_policy(fleet, tmp_path: Path) -> None:
    ca, dev, trust = fleet
    env = dev.sign(CONTEXT, READING)
    _, other_dev, other_trust = _fleet(tmp_path, "other-root")
    with pytest.raises(UntrustedError):
        trust.verify_signed(other_dev.sign(CONTEXT, READING), CONTEXT)
    with pytest.raises(UntrustedError):
        other_trust.verify_signed(env, CONTEXT)
    with Trust(ca.certificate) as bare, pytest.raises(PolicyError):
        bare.verify_signed(env, CONTEXT)
    trust.apply_revocation(ca.revoke([dev.key_id]))
    with pytest.raises(RevokedError):
        trust.verify_signed(env, CONTEXT)
