"""Identity, Trust and CertificateAuthority: the provisioning flow, every
refusal with its own exception, keystore secrecy, and interop with the
pqc-iiot command line tool.

Most keystores use a raw key: a passphrase costs an Argon2id run (64 MiB,
about 0.2 s) per create or open, so only the tests about passphrases pay it.
"""

from __future__ import annotations

import datetime
import os
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Type

import pytest

import pqc_iiot
from pqc_iiot import (DAY, KEY_ID_BYTES, MAX_DURATION_SECONDS, CertificateAuthority,
                      ClosedError, CorruptError, ExpiredError, Identity,
                      InvalidArgumentError, KeystoreIOError, PolicyError, PqcError,
                      ReplayError, RevokedError, RollbackError, Signature, StateError,
                      Status, Trust, UnsupportedAlgorithmError, UntrustedError,
                      WrongKeyError)

from conftest import REPO_ROOT

DEVICE = "sensor-1"
CA_NAME = "plant-root"
PASSPHRASE = "correct horse battery staple"


@dataclass
class Fleet:
    """A CA and one device in tmp_path, each with its own raw key."""

    tmp: Path
    ca_key: bytes
    dev_key: bytes
    ca: CertificateAuthority
    dev: Identity

    @property
    def dev_path(self) -> Path:
        return self.tmp / "dev.store"

    @property
    def ca_path(self) -> Path:
        return self.tmp / "ca.store"

    def enroll(self) -> bytes:
        """Allows, joins and installs the device; returns its chain."""
        self.ca.allow(DEVICE, self.dev.factory_public_key, ["sensor"])
        chain = self.ca.enroll(self.dev.join_request())
        self.dev.install(chain, anchor=self.ca.certificate)
        return chain

    def foreign_ca(self) -> CertificateAuthority:
        return CertificateAuthority.create(self.tmp / "other-ca.store", "other-root",
                                           raw_key=os.urandom(32))


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    ca_key, dev_key = os.urandom(32), os.urandom(32)
    with CertificateAuthority.create(tmp_path / "ca.store", CA_NAME, raw_key=ca_key) as ca, \
            Identity.create(tmp_path / "dev.store", DEVICE, raw_key=dev_key) as dev:
        yield Fleet(tmp_path, ca_key, dev_key, ca, dev)


# ---- the flow ------------------------------------------------------------------


def test_provisioning_flow(fleet: Fleet) -> None:
    ca, dev = fleet.ca, fleet.dev
    anchor = ca.certificate
    assert dev.device_id == DEVICE

    # Join.
    ca.allow(DEVICE, dev.factory_public_key, roles=["sensor", "reporter"])
    chain = ca.enroll(dev.join_request(), validity_seconds=30 * DAY)
    dev.install(chain, anchor=anchor)
    assert dev.chain == chain and dev.epoch == 0
    first_key_id = dev.key_id
    assert len(first_key_id) == KEY_ID_BYTES

    # A verifier with only the anchor.
    with Trust(anchor) as trust:
        assert trust.verify_chain(chain) == DEVICE
        with pytest.raises(PolicyError):
            trust.check_policy()
        policy = ca.sign_policy(ttl_seconds=DAY, allowed_sigs=["ML-DSA-65", "ML-DSA-44"])
        trust.apply_policy(policy)
        trust.check_policy()
        dev.apply_policy(policy)

        # Rotation to epoch 1; no overlap, so prune destroys epoch 0 at once.
        assert dev.rotation_due(0) and not dev.rotation_due(DAY)
        renewed = ca.enroll(dev.renewal_request())
        dev.install(renewed, overlap_seconds=0)
        assert dev.epoch == 1 and dev.chain == renewed
        assert dev.key_id != first_key_id
        assert trust.verify_chain(renewed) == DEVICE
        assert dev.prune() is True
        assert dev.prune() is False  # nothing left to destroy

        # Revocation of the current key.
        revocation = ca.revoke([dev.key_id])
        trust.apply_revocation(revocation)
        dev.apply_revocation(revocation)
        with pytest.raises(RevokedError):
            trust.verify_chain(renewed)
        # The CA refuses to renew a revoked key too.
        with pytest.raises(RevokedError):
            ca.enroll(dev.renewal_request())


def test_keys_and_announcement(fleet: Fleet) -> None:
    fleet.enroll()
    dev = fleet.dev
    with Signature("ML-DSA-65") as sig:
        assert len(dev.public_key()) == sig.public_key_size
        assert dev.public_key("ml-dsa-65") == dev.public_key()
    with pqc_iiot.Kem("X25519-ML-KEM-768") as kem:
        assert len(dev.public_key("X25519-ML-KEM-768")) == kem.public_key_size
    with pytest.raises(UnsupportedAlgorithmError):
        dev.public_key("ML-KEM-512")
    a, b = dev.announcement("plant/line-1/sensor-1"), dev.announcement("plant/line-2")
    assert isinstance(a, bytes) and a and a != b


def test_chosen_algorithms(tmp_path: Path) -> None:
    with Identity.create(tmp_path / "dev.store", "gw-3", raw_key=os.urandom(32),
                         factory_alg="ML-DSA-44", sig_alg="ML-DSA-87",
                         kem_algs=["ML-KEM-768", "X25519-ML-KEM-768"]) as dev, \
            CertificateAuthority.create(tmp_path / "ca.store", "root",
                                        raw_key=os.urandom(32), alg="ML-DSA-87",
                                        validity_seconds=DAY) as ca:
        ca.allow("gw-3", dev.factory_public_key)
        dev.install(ca.enroll(dev.join_request()), anchor=ca.certificate)
        with Signature("ML-DSA-87") as sig:
            assert len(dev.public_key()) == sig.public_key_size
        assert len(dev.public_key("ML-KEM-768")) == 1184
        assert len(dev.public_key("X25519-ML-KEM-768")) == 1216


def test_reopen_keeps_state(fleet: Fleet) -> None:
    chain = fleet.enroll()
    key_id = fleet.dev.key_id
    fleet.dev.close()
    with Identity.open(fleet.dev_path, raw_key=bytearray(fleet.dev_key)) as dev:
        assert (dev.device_id, dev.epoch, dev.key_id, dev.chain) == (DEVICE, 0, key_id, chain)
        # The anchor was stored by the first install.
        dev.install(fleet.ca.enroll(dev.renewal_request()))
        assert dev.epoch == 1
    fleet.ca.close()
    with CertificateAuthority.open(fleet.ca_path, raw_key=memoryview(fleet.ca_key)) as ca:
        assert Trust(ca.certificate).verify_chain(chain) == DEVICE


# ---- refusals, one exception each ---------------------------------------------------


def _replayed_join(f: Fleet) -> None:
    f.ca.allow(DEVICE, f.dev.factory_public_key)
    request = f.dev.join_request()
    f.ca.enroll(request)
    f.ca.enroll(request)


def _not_allowed(f: Fleet) -> None:
    f.ca.enroll(f.dev.join_request())


def _allowed_other_key(f: Fleet) -> None:
    with Identity.create(f.tmp / "twin.store", DEVICE, raw_key=os.urandom(32)) as twin:
        f.ca.allow(DEVICE, twin.factory_public_key)
    f.ca.enroll(f.dev.join_request())


def _foreign_ca_chain(f: Fleet) -> None:
    chain = f.enroll()
    with f.foreign_ca() as other:
        Trust(other.certificate).verify_chain(chain)


def _foreign_anchor_install(f: Fleet) -> None:
    f.enroll()
    with f.foreign_ca() as other:
        f.dev.install(f.ca.enroll(f.dev.renewal_request()), anchor=other.certificate)


def _expired(f: Fleet) -> None:
    chain = f.enroll()
    Trust(f.ca.certificate).verify_chain(
        chain, at=datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc))


def _not_yet_valid(f: Fleet) -> None:
    chain = f.enroll()
    Trust(f.ca.certificate).verify_chain(chain, at=1_000_000_000)  # 2001


def _revoked(f: Fleet) -> None:
    chain = f.enroll()
    trust = Trust(f.ca.certificate)
    trust.apply_revocation(f.ca.revoke([f.dev.key_id]))
    trust.verify_chain(chain)


def _policy_rollback_trust(f: Fleet) -> None:
    old, new = f.ca.sign_policy(), f.ca.sign_policy()
    trust = Trust(f.ca.certificate)
    trust.apply_policy(new)
    trust.apply_policy(old)


def _policy_rollback_identity(f: Fleet) -> None:
    f.enroll()
    old, new = f.ca.sign_policy(), f.ca.sign_policy()
    f.dev.apply_policy(new)
    f.dev.apply_policy(old)


def _revocation_rollback(f: Fleet) -> None:
    f.enroll()
    old = f.ca.revoke([bytes(KEY_ID_BYTES)])
    new = f.ca.revoke([b"\x01" * KEY_ID_BYTES])
    f.dev.apply_revocation(new)
    f.dev.apply_revocation(old)


def _no_policy(f: Fleet) -> None:
    Trust(f.ca.certificate).check_policy()


def _renewal_before_install(f: Fleet) -> None:
    f.dev.renewal_request()


def _chain_before_install(f: Fleet) -> None:
    f.dev.chain


def _first_install_without_anchor(f: Fleet) -> None:
    f.ca.allow(DEVICE, f.dev.factory_public_key)
    f.dev.install(f.ca.enroll(f.dev.join_request()))


def _second_open(f: Fleet) -> None:
    Identity.open(f.dev_path, raw_key=f.dev_key)


def _second_ca_open(f: Fleet) -> None:
    CertificateAuthority.open(f.ca_path, raw_key=f.ca_key)


def _missing_store(f: Fleet) -> None:
    Identity.open(f.tmp / "nope.store", raw_key=f.dev_key)


def _create_over_existing(f: Fleet) -> None:
    f.dev.close()
    Identity.create(f.dev_path, DEVICE, raw_key=f.dev_key)


def _wrong_raw_key(f: Fleet) -> None:
    f.dev.close()
    Identity.open(f.dev_path, raw_key=f.ca_key)


def _wrong_key_kind(f: Fleet) -> None:
    f.dev.close()
    Identity.open(f.dev_path, passphrase=b"x")


def _unknown_kem(f: Fleet) -> None:
    Identity.create(f.tmp / "x.store", "x", raw_key=f.dev_key, kem_algs=["ML-KEM-769"])


def _short_raw_key(f: Fleet) -> None:
    f.dev.close()
    Identity.open(f.dev_path, raw_key=f.dev_key[:31])


def _malformed_chain(f: Fleet) -> None:
    Trust(f.ca.certificate).verify_chain(b"\xa0not a chain")


@pytest.mark.parametrize(
    "case, exc, status",
    [
        (_replayed_join, ReplayError, Status.REPLAY),
        (_not_allowed, UntrustedError, Status.UNTRUSTED),
        (_allowed_other_key, UntrustedError, Status.UNTRUSTED),
        (_foreign_ca_chain, UntrustedError, Status.UNTRUSTED),
        (_foreign_anchor_install, UntrustedError, Status.UNTRUSTED),
        (_expired, ExpiredError, Status.EXPIRED),
        (_not_yet_valid, ExpiredError, Status.EXPIRED),
        (_revoked, RevokedError, Status.REVOKED),
        (_policy_rollback_trust, RollbackError, Status.ROLLBACK),
        (_policy_rollback_identity, RollbackError, Status.ROLLBACK),
        (_revocation_rollback, RollbackError, Status.ROLLBACK),
        (_no_policy, PolicyError, Status.POLICY),
        (_renewal_before_install, StateError, Status.STATE),
        (_chain_before_install, StateError, Status.STATE),
        (_first_install_without_anchor, StateError, Status.STATE),
        (_second_open, KeystoreIOError, Status.IO),
        (_second_ca_open, KeystoreIOError, Status.IO),
        (_missing_store, KeystoreIOError, Status.IO),
        (_create_over_existing, KeystoreIOError, Status.IO),
        (_wrong_raw_key, WrongKeyError, Status.WRONG_KEY),
        (_wrong_key_kind, WrongKeyError, Status.WRONG_KEY),
        (_unknown_kem, UnsupportedAlgorithmError, Status.UNSUPPORTED),
        (_short_raw_key, InvalidArgumentError, Status.INVALID_ARGUMENT),
        (_malformed_chain, InvalidArgumentError, Status.INVALID_ARGUMENT),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) and not isinstance(v, type) else None,
)
def test_refusals(fleet: Fleet, case: Callable[[Fleet], None], exc: Type[PqcError],
                  status: Status) -> None:
    with pytest.raises(exc) as info:
        case(fleet)
    assert type(info.value) is exc
    assert info.value.status == status
    assert info.value.detail  # the library said why


def test_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "dev.store"
    # A str passphrase is its UTF-8 bytes, whichever form opens it.
    phrase = "Schlüssel-🔑"
    Identity.create(path, DEVICE, passphrase=phrase).close()
    with pytest.raises(WrongKeyError) as info:
        Identity.open(path, passphrase=phrase + "!")
    assert info.value.status == Status.WRONG_KEY
    with Identity.open(path, passphrase=bytearray(phrase.encode("utf-8"))) as dev:
        assert dev.device_id == DEVICE


def _sealed_record_offset(raw: bytes) -> int:
    """The middle of the device record's ciphertext in a fresh store.

    Keystores are bbolt files. Flipping bytes at the middle of the file
    proves nothing: there a fresh store has free pages, which hold no data
    and are never read. Instead this finds the leaf page with overflow pages
    (page header: id u64, flags u16 with 0x02 = leaf, count u16, overflow
    u32): in a store holding only a device identity, the one value too large
    for a page is the sealed record with the factory key pair.
    """
    page_size = struct.unpack_from("<I", raw, 16 + 8)[0]  # meta: magic, version, page size
    assert page_size in (512, 1024, 2048, 4096, 8192, 16384, 65536), page_size
    for start in range(2 * page_size, len(raw), page_size):
        page_id, flags, count, overflow = struct.unpack_from("<QHHI", raw, start)
        if page_id == start // page_size and flags == 0x02 and count == 1 and overflow:
            return start + (overflow + 1) * page_size // 2
    raise AssertionError("no sealed record spanning several pages found in the keystore")


def test_tampered_keystore_is_corrupt(tmp_path: Path) -> None:
    path, key = tmp_path / "dev.store", os.urandom(32)
    Identity.create(path, DEVICE, raw_key=key).close()
    raw = bytearray(path.read_bytes())
    at = _sealed_record_offset(bytes(raw))
    raw[at:at + 16] = bytes(b ^ 0xFF for b in raw[at:at + 16])
    path.write_bytes(raw)
    # The AEAD tag fails; a wrong key would have failed the key check first,
    # so the library can tell the two apart.
    with pytest.raises(CorruptError) as info:
        Identity.open(path, raw_key=key)
    assert info.value.status == Status.CORRUPT


def test_keystores_hold_no_plaintext(fleet: Fleet) -> None:
    chain = fleet.enroll()
    fleet.dev.apply_policy(fleet.ca.sign_policy())
    factory_key = fleet.dev.factory_public_key
    public_key = fleet.dev.public_key()
    fleet.dev.close()
    fleet.ca.close()
    secrets = {
        "device id": DEVICE.encode(),
        "CA name": CA_NAME.encode(),
        "signature algorithm": b"ML-DSA-65",
        "KEM algorithm": b"X25519-ML-KEM-768",
        "record name": b"identity/",
        "factory public key": factory_key[len(factory_key) // 2:][:64],
        "operational public key": public_key[100:164],
        "certificate chain": chain[len(chain) // 2:][:64],
        "device store key": fleet.dev_key,
        "CA store key": fleet.ca_key,
    }
    for store in (fleet.dev_path, fleet.ca_path):
        raw = store.read_bytes()
        found = [what for what, needle in secrets.items() if needle in raw]
        assert not found, f"{store.name} contains in the clear: {', '.join(found)}"


def test_objects_do_not_keep_secrets(tmp_path: Path) -> None:
    key = bytearray(os.urandom(32))
    with Identity.create(tmp_path / "dev.store", DEVICE, raw_key=key) as dev, \
            CertificateAuthority.create(tmp_path / "ca.store", "root", raw_key=key) as ca:
        for obj in (dev, ca):
            assert set(vars(obj)) == {"_handle"}
    # The caller's buffer is the caller's to wipe, and wiping it is safe.
    key[:] = bytes(32)


def test_failed_create_leaves_no_file(tmp_path: Path) -> None:
    # libpqc_iiot creates the file before validating the device id and
    # leaves it behind; the binding removes it so a corrected retry works.
    path = tmp_path / "dev.store"
    key = os.urandom(32)
    with pytest.raises(InvalidArgumentError):
        Identity.create(path, "not a valid id", raw_key=key)
    assert not path.exists()
    with pytest.raises(UnsupportedAlgorithmError):
        Identity.create(path, DEVICE, raw_key=key, sig_alg="ML-DSA-66")
    assert not path.exists()
    with pytest.raises(InvalidArgumentError):
        CertificateAuthority.create(tmp_path / "ca.store", "", raw_key=key)
    assert not (tmp_path / "ca.store").exists()
    Identity.create(path, DEVICE, raw_key=key).close()
    # A store that already existed is never removed.
    with pytest.raises(InvalidArgumentError):
        Identity.create(path, "not a valid id", raw_key=key)
    with pytest.raises(KeystoreIOError):
        Identity.create(path, DEVICE, raw_key=key)
    assert path.exists()


# ---- closed objects and arguments --------------------------------------------------------


def test_closed_objects_raise(fleet: Fleet) -> None:
    chain = fleet.enroll()
    anchor, policy = fleet.ca.certificate, fleet.ca.sign_policy()
    dev, ca, trust = fleet.dev, fleet.ca, Trust(anchor)
    for obj in (dev, ca, trust):
        obj.close()
        obj.close()  # twice is fine
        assert obj.closed
    uses: List[Callable[[], object]] = [
        lambda: dev.device_id, lambda: dev.factory_public_key, lambda: dev.chain,
        lambda: dev.epoch, lambda: dev.key_id, lambda: dev.public_key(),
        dev.join_request, dev.renewal_request, lambda: dev.install(chain),
        lambda: dev.announcement("t"), lambda: dev.apply_policy(policy),
        lambda: dev.apply_revocation(b"x"), lambda: dev.rotation_due(1), dev.prune,
        lambda: dev.__enter__(),
        lambda: ca.certificate, lambda: ca.allow(DEVICE, b"k"), lambda: ca.enroll(b"r"),
        ca.sign_policy, lambda: ca.revoke([]),
        lambda: trust.apply_policy(policy), lambda: trust.apply_revocation(b"x"),
        trust.check_policy, lambda: trust.verify_chain(chain),
    ]
    for use in uses:
        with pytest.raises(ClosedError):
            use()
    # Closing released the keystore lock.
    Identity.open(fleet.dev_path, raw_key=fleet.dev_key).close()


def test_context_manager_closes(tmp_path: Path) -> None:
    with Identity.create(tmp_path / "dev.store", DEVICE, raw_key=os.urandom(32)) as dev:
        assert repr(dev) == f"<pqc_iiot.Identity {DEVICE!r} open>"
    assert dev.closed and repr(dev) == "<pqc_iiot.Identity closed>"
    with pytest.raises(ClosedError):
        dev.device_id


def test_constructors_need_create_or_open() -> None:
    for cls in (Identity, CertificateAuthority):
        with pytest.raises(TypeError):
            cls()  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda p, k: Identity.create(p, DEVICE), TypeError),
        (lambda p, k: Identity.create(p, DEVICE, raw_key=k, passphrase="x"), TypeError),
        (lambda p, k: Identity.open(p), TypeError),
        (lambda p, k: Identity.open(p, raw_key=k.hex()), TypeError),
        (lambda p, k: Identity.open(p, passphrase=1234), TypeError),
        (lambda p, k: Identity.create(p, DEVICE, passphrase=""), InvalidArgumentError),
        (lambda p, k: Identity.create(p, DEVICE, raw_key=k + b"\x00"), InvalidArgumentError),
        (lambda p, k: Identity.create(p, b"sensor-1", raw_key=k), TypeError),
        (lambda p, k: Identity.create(p, "a\x00b", raw_key=k), InvalidArgumentError),
        (lambda p, k: Identity.create(str(p) + "\x00x", DEVICE, raw_key=k),
         InvalidArgumentError),
        (lambda p, k: Identity.create(p, DEVICE, raw_key=k, kem_algs=["ML-KEM-768,Kyber768"]),
         InvalidArgumentError),
        (lambda p, k: Identity.create(p, DEVICE, raw_key=k, kem_algs=b"ML-KEM-768"),
         TypeError),
        (lambda p, k: CertificateAuthority.create(p, "root", raw_key=k,
                                                  validity_seconds=MAX_DURATION_SECONDS + 1),
         InvalidArgumentError),
        (lambda p, k: CertificateAuthority.create(p, "root", raw_key=k, validity_seconds=-1),
         InvalidArgumentError),
        (lambda p, k: CertificateAuthority.create(p, "root", raw_key=k, validity_seconds=0),
         InvalidArgumentError),
        (lambda p, k: CertificateAuthority.create(p, "root", raw_key=k,
                                                  validity_seconds=1.5),
         TypeError),
    ],
)
def test_argument_errors(tmp_path: Path, call: Callable[[Path, bytes], object],
                         exc: Type[Exception]) -> None:
    path = tmp_path / "x.store"
    with pytest.raises(exc):
        call(path, os.urandom(32))
    assert not path.exists()


def test_method_argument_errors(fleet: Fleet) -> None:
    chain = fleet.enroll()
    trust = Trust(fleet.ca.certificate)
    naive = datetime.datetime(2030, 1, 1)
    cases = [
        (lambda: trust.verify_chain(chain, at=naive), InvalidArgumentError),
        (lambda: trust.verify_chain(chain, at=0), InvalidArgumentError),
        (lambda: trust.verify_chain(chain, at="2030-01-01"), TypeError),
        (lambda: trust.verify_chain(chain, at=2**63), InvalidArgumentError),
        (lambda: fleet.ca.revoke(fleet.dev.key_id), TypeError),
        (lambda: fleet.ca.revoke([fleet.dev.key_id[:-1]]), InvalidArgumentError),
        (lambda: fleet.ca.enroll(b"x", validity_seconds=MAX_DURATION_SECONDS + 1),
         InvalidArgumentError),
        (lambda: fleet.ca.sign_policy(ttl_seconds=0), InvalidArgumentError),
        (lambda: fleet.ca.sign_policy(allowed_kems=["ML-KEM-769"]), UnsupportedAlgorithmError),
        (lambda: fleet.ca.sign_policy(rekey_messages=2**64), InvalidArgumentError),
        (lambda: fleet.ca.sign_policy(require_sessions=1), TypeError),
        (lambda: fleet.dev.install(chain, overlap_seconds=-1), InvalidArgumentError),
        (lambda: fleet.dev.rotation_due(MAX_DURATION_SECONDS + 1), InvalidArgumentError),
        (lambda: fleet.dev.announcement(b"topic"), TypeError),
        (lambda: fleet.dev.apply_policy("policy"), TypeError),
        (lambda: Trust(b"not a certificate"), InvalidArgumentError),
    ]
    for call, exc in cases:
        with pytest.raises(exc):
            call()
    # An aware datetime and plain Unix seconds mean the same instant.
    now = datetime.datetime.now(datetime.timezone.utc)
    assert trust.verify_chain(chain, at=now) == DEVICE
    assert trust.verify_chain(chain, at=int(now.timestamp())) == DEVICE


def test_key_ids_and_lists_accept_bytes_like(fleet: Fleet) -> None:
    fleet.enroll()
    kid = fleet.dev.key_id
    revocation = fleet.ca.revoke(iter([bytearray(kid), memoryview(b"\x02" * KEY_ID_BYTES)]))
    trust = Trust(bytearray(fleet.ca.certificate))
    trust.apply_revocation(memoryview(revocation))
    with pytest.raises(RevokedError):
        trust.verify_chain(bytearray(fleet.dev.chain))
    # An empty list re-signs the current one with a newer sequence number.
    trust.apply_revocation(fleet.ca.revoke([]))
    with pytest.raises(RevokedError):
        trust.verify_chain(fleet.dev.chain)
    # A comma-separated str works where a list of names is taken.
    trust.apply_policy(fleet.ca.sign_policy(allowed_kems="ML-KEM-768,X25519-ML-KEM-768"))
    trust.check_policy()


def test_shared_between_threads(fleet: Fleet) -> None:
    # The library serializes calls on one identity; Trust needs no lock.
    chain = fleet.enroll()
    trust = Trust(fleet.ca.certificate)

    def work(i: int) -> bool:
        for _ in range(5):
            assert trust.verify_chain(chain) == DEVICE
            assert fleet.dev.announcement(f"plant/{i}")
            assert (fleet.dev.epoch, fleet.dev.chain) == (0, chain)
        return True

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(8)))


# ---- the command line tool -----------------------------------------------------------


def _go() -> str:
    go = shutil.which(os.environ.get("GO", "go")) or shutil.which("go")
    if go is None and os.access("/usr/local/go/bin/go", os.X_OK):
        go = "/usr/local/go/bin/go"
    if go is None:
        pytest.skip("go is not installed: the pqc-iiot command line tool cannot be built")
    return go


@pytest.fixture(scope="session")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cmd/pqc-iiot built from this repository."""
    if not (REPO_ROOT / "go.mod").is_file() or not (REPO_ROOT / "cmd" / "pqc-iiot").is_dir():
        pytest.skip(f"{REPO_ROOT} is not a pqc-iiot checkout with cmd/pqc-iiot")
    go = _go()
    exe = tmp_path_factory.mktemp("cli") / "pqc-iiot"
    cmd = [go, "build", "-buildvcs=false", "-o", str(exe), "./cmd/pqc-iiot"]
    result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    return exe


def _run_cli(cli: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    env = dict(os.environ, PQC_IIOT_PASSPHRASE=PASSPHRASE)
    result = subprocess.run([str(cli), *args], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == expect, (
        f"pqc-iiot {' '.join(args)} exited {result.returncode}, want {expect}:\n"
        f"{result.stdout}{result.stderr}")
    return result


def test_cli_ca_python_device(cli: Path, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    _run_cli(cli, "ca", "init", "--dir", str(ca_dir), "--name", CA_NAME)
    anchor = (ca_dir / "ca.cert").read_bytes()

    with Identity.create(tmp_path / "dev.store", "sensor-7", raw_key=os.urandom(32)) as dev:
        (tmp_path / "factory.pub").write_bytes(dev.factory_public_key)
        _run_cli(cli, "ca", "allow", "--dir", str(ca_dir), "--device", "sensor-7",
                 "--factory-key", str(tmp_path / "factory.pub"), "--role", "sensor")
        (tmp_path / "join.req").write_bytes(dev.join_request())
        _run_cli(cli, "ca", "enroll", "--dir", str(ca_dir), "--request",
                 str(tmp_path / "join.req"), "--out", str(tmp_path / "chain"))
        chain = (tmp_path / "chain").read_bytes()
        dev.install(chain, anchor=anchor)
        assert Trust(anchor).verify_chain(dev.chain) == "sensor-7"
        # The CLI checks the chain the other way round.
        _run_cli(cli, "inspect", "--ca", str(ca_dir / "ca.cert"), str(tmp_path / "chain"))

        # The CLI's CA keystore opens from Python with the same passphrase.
        with pytest.raises(WrongKeyError):
            CertificateAuthority.open(ca_dir / "ca.store", passphrase=PASSPHRASE + "x")
        with CertificateAuthority.open(ca_dir / "ca.store", passphrase=PASSPHRASE) as ca:
            assert ca.certificate == anchor
            dev.install(ca.enroll(dev.renewal_request()))
            assert dev.epoch == 1
            policy = ca.sign_policy()
            # The CA is locked while Python holds it.
            _run_cli(cli, "ca", "allow", "--dir", str(ca_dir), "--device", "sensor-8",
                     "--factory-key", str(tmp_path / "factory.pub"), expect=1)
        dev.apply_policy(policy)
        (tmp_path / "policy").write_bytes(policy)
        _run_cli(cli, "inspect", "--ca", str(ca_dir / "ca.cert"), str(tmp_path / "policy"))


def test_cli_device_opens_in_python(cli: Path, tmp_path: Path) -> None:
    store = tmp_path / "dev.store"
    _run_cli(cli, "device", "init", "--store", str(store), "--id", "valve-2",
             "--factory-key-out", str(tmp_path / "factory.pub"))
    with Identity.open(store, passphrase=PASSPHRASE) as dev:
        assert dev.device_id == "valve-2"
        assert dev.factory_public_key == (tmp_path / "factory.pub").read_bytes()
        with pytest.raises(StateError):
            dev.epoch


# ---- the example -----------------------------------------------------------------------


def test_provision_example(tmp_path: Path) -> None:
    example = REPO_ROOT / "examples" / "python" / "provision.py"
    result = subprocess.run([sys.executable, str(example), str(tmp_path / "fleet")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in ("CA plant-root created", "sensor-1 joined: epoch 0",
                 "SCADA verified sensor-1", "policy installed",
                 "sensor-1 rotated: epoch 1", "revoked key refused"):
        assert line in out, out


def test_restored_older_keystore_is_a_rollback(tmp_path: Path) -> None:
    # The anchor beside the store moves on with every write, so an older
    # copy of the file put back in place is refused rather than trusted.
    path, key = tmp_path / "dev.store", os.urandom(32)
    Identity.create(path, DEVICE, raw_key=key).close()
    old = path.read_bytes()
    with Identity.open(path, raw_key=key) as dev:
        dev.join_request()  # a write: pending keys
    path.write_bytes(old)
    with pytest.raises(RollbackError):
        Identity.open(path, raw_key=key)
