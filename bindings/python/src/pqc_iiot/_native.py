"""Loading libpqc_iiot and declaring the C prototypes of include/pqc_iiot.h.

Nothing here is built or downloaded: the library either comes with the wheel
(``_lib/libpqc_iiot.so``, made by setup.py at install time) or is named by the
``PQC_IIOT_LIBRARY`` environment variable.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (POINTER, c_char_p, c_int, c_int64, c_size_t, c_uint32, c_uint64,
                    c_void_p)
from pathlib import Path
from typing import Any, Callable, Sequence

#: The ABI version of include/pqc_iiot.h this package was written against.
ABI_VERSION = 1

#: Output buffer sizes that calls with side effects (generating keys,
#: consuming a request, taking a sequence number) demand up front, and the
#: size of a key id; fixed by the header.
OBJECT_MAX_BYTES = 262144
REVOCATION_MAX_BYTES = 524288
KEY_ID_BYTES = 16
#: Session sizes fixed by the header (PQC_SESSION_ID_BYTES, ...).
SESSION_ID_BYTES = 16
HANDSHAKE_MAX_BYTES = 16384
DEVICE_ID_MAX_BYTES = 129
SESSION_RESUME = 1

#: How the keystore key argument is read (PQC_KEYSTORE_*).
KEYSTORE_PASSPHRASE = 0
KEYSTORE_RAW_KEY = 1

LIBRARY_ENV = "PQC_IIOT_LIBRARY"
BUNDLED_LIBRARY = Path(__file__).resolve().parent / "_lib" / "libpqc_iiot.so"

# Byte buffers cross as char pointers: ctypes passes a bytes object's storage
# and a create_string_buffer() array directly, without copying, and uint8_t *
# and char * share one representation in every C ABI Go supports.
_buf = c_char_p
_size_p = POINTER(c_size_t)
_handle_p = POINTER(c_void_p)

#: pqc_mqtt_callback: (user, topic, sender, payload, len). The payload is a
#: void pointer so ctypes does not stop at the first NUL byte.
MQTT_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, c_char_p, c_char_p, c_void_p, c_size_t)

# name -> (restype, argtypes). Handles are c_void_p because the C side sees
# opaque pointers (which the library fills with handle numbers).
_PROTOTYPES: dict[str, tuple[Any, Sequence[Any]]] = {
    "pqc_version": (c_char_p, ()),
    "pqc_abi_version": (c_int, ()),
    "pqc_strerror": (c_char_p, (c_int,)),
    "pqc_last_error": (c_char_p, ()),
    "pqc_random_bytes": (c_int, (_buf, c_size_t)),
    # KEM
    "pqc_kem_algorithm_count": (c_size_t, ()),
    "pqc_kem_algorithm_name": (c_char_p, (c_size_t,)),
    "pqc_kem_new": (c_int, (c_char_p, POINTER(c_void_p))),
    "pqc_kem_free": (None, (c_void_p,)),
    "pqc_kem_algorithm": (c_char_p, (c_void_p,)),
    "pqc_kem_public_key_size": (c_size_t, (c_void_p,)),
    "pqc_kem_secret_key_size": (c_size_t, (c_void_p,)),
    "pqc_kem_ciphertext_size": (c_size_t, (c_void_p,)),
    "pqc_kem_shared_secret_size": (c_size_t, (c_void_p,)),
    "pqc_kem_seed_size": (c_size_t, (c_void_p,)),
    "pqc_kem_keypair": (c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t)),
    "pqc_kem_keypair_from_seed": (
        c_int,
        (c_void_p, _buf, c_size_t, _buf, c_size_t, _buf, c_size_t),
    ),
    "pqc_kem_encapsulate": (
        c_int,
        (c_void_p, _buf, c_size_t, _buf, c_size_t, _buf, c_size_t),
    ),
    "pqc_kem_decapsulate": (
        c_int,
        (c_void_p, _buf, c_size_t, _buf, c_size_t, _buf, c_size_t),
    ),
    # Signatures
    "pqc_sig_algorithm_count": (c_size_t, ()),
    "pqc_sig_algorithm_name": (c_char_p, (c_size_t,)),
    "pqc_sig_new": (c_int, (c_char_p, POINTER(c_void_p))),
    "pqc_sig_free": (None, (c_void_p,)),
    "pqc_sig_algorithm": (c_char_p, (c_void_p,)),
    "pqc_sig_public_key_size": (c_size_t, (c_void_p,)),
    "pqc_sig_secret_key_size": (c_size_t, (c_void_p,)),
    "pqc_sig_signature_max_size": (c_size_t, (c_void_p,)),
    "pqc_sig_seed_size": (c_size_t, (c_void_p,)),
    "pqc_sig_keypair": (c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t)),
    "pqc_sig_keypair_from_seed": (
        c_int,
        (c_void_p, _buf, c_size_t, _buf, c_size_t, _buf, c_size_t),
    ),
    "pqc_sig_sign": (
        c_int,
        (c_void_p, _buf, c_size_t, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    "pqc_sig_verify": (
        c_int,
        (c_void_p, _buf, c_size_t, _buf, c_size_t, _buf, c_size_t),
    ),
    # Device identity. Handles are c_void_p as above. Strings (paths, device
    # ids, algorithm lists, topics) are NUL-terminated c_char_p.
    "pqc_identity_create": (
        c_int,
        (c_char_p, c_int, _buf, c_size_t, c_char_p, c_char_p, c_char_p,
         c_char_p, _handle_p),
    ),
    "pqc_identity_open": (c_int, (c_char_p, c_int, _buf, c_size_t, _handle_p)),
    "pqc_identity_free": (None, (c_void_p,)),
    "pqc_identity_device_id": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_identity_factory_public_key": (
        c_int, (c_void_p, _buf, c_size_t, _size_p),
    ),
    "pqc_identity_join_request": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_identity_renewal_request": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_identity_install": (
        c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t, c_uint64),
    ),
    "pqc_identity_chain": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_identity_epoch": (c_int, (c_void_p, POINTER(c_uint64))),
    "pqc_identity_key_id": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_identity_public_key": (
        c_int, (c_void_p, c_char_p, _buf, c_size_t, _size_p),
    ),
    "pqc_identity_announcement": (
        c_int, (c_void_p, c_char_p, _buf, c_size_t, _size_p),
    ),
    "pqc_identity_apply_policy": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_identity_apply_revocation": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_identity_rotation_due": (c_int, (c_void_p, c_uint64, POINTER(c_int))),
    "pqc_identity_prune": (c_int, (c_void_p, POINTER(c_int))),
    # Trust
    "pqc_trust_new": (c_int, (_buf, c_size_t, _handle_p)),
    "pqc_trust_free": (None, (c_void_p,)),
    "pqc_trust_apply_policy": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_trust_apply_revocation": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_trust_check_policy": (c_int, (c_void_p,)),
    "pqc_trust_verify_chain": (
        c_int,
        (c_void_p, _buf, c_size_t, c_int64, _buf, c_size_t, _size_p),
    ),
    # Signed envelopes
    "pqc_signed_max_content": (c_size_t, ()),
    "pqc_identity_sign": (
        c_int, (c_void_p, c_char_p, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    "pqc_identity_verify_signed": (
        c_int,
        (c_void_p, _buf, c_size_t, c_char_p, _buf, c_size_t, _size_p, _buf, c_size_t,
         POINTER(c_int64)),
    ),
    "pqc_trust_verify_signed": (
        c_int,
        (c_void_p, _buf, c_size_t, c_char_p, _buf, c_size_t, _size_p, _buf, c_size_t,
         POINTER(c_int64)),
    ),
    # Certificate authority
    "pqc_ca_create": (
        c_int,
        (c_char_p, c_int, _buf, c_size_t, c_char_p, c_char_p, c_uint64,
         _handle_p),
    ),
    "pqc_ca_open": (c_int, (c_char_p, c_int, _buf, c_size_t, _handle_p)),
    "pqc_ca_free": (None, (c_void_p,)),
    "pqc_ca_certificate": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_ca_allow": (c_int, (c_void_p, c_char_p, _buf, c_size_t, c_char_p)),
    "pqc_ca_enroll": (
        c_int,
        (c_void_p, _buf, c_size_t, c_uint64, _buf, c_size_t, _size_p),
    ),
    "pqc_ca_sign_policy": (
        c_int,
        (c_void_p, c_uint64, c_char_p, c_char_p, c_uint64, c_uint64, c_int,
         _buf, c_size_t, _size_p),
    ),
    "pqc_ca_revoke": (
        c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    # Sessions and sealed messages. Batch calls take arrays of pointers and
    # lengths, passed as void pointers to ctypes arrays built per call.
    "pqc_session_manager_new": (c_int, (c_void_p, c_uint32, _handle_p)),
    "pqc_session_manager_free": (None, (c_void_p,)),
    "pqc_session_manager_add_peer": (
        c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    "pqc_session_manager_accept_announcement": (
        c_int, (c_void_p, _buf, c_size_t, c_char_p),
    ),
    "pqc_session_manager_enforce_policy": (c_int, (c_void_p,)),
    "pqc_session_manager_resumed": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_session_manager_find": (c_int, (c_void_p, _buf, c_size_t, _handle_p)),
    "pqc_session_manager_unprotect": (
        c_int, (c_void_p, _buf, c_size_t, c_char_p, _buf, c_size_t, _size_p, _buf),
    ),
    "pqc_session_initiate": (
        c_int, (c_void_p, c_char_p, c_char_p, _buf, c_size_t, _size_p),
    ),
    "pqc_session_handle_handshake": (
        c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t, _size_p, _handle_p),
    ),
    "pqc_session_frame_overhead_max": (c_size_t, ()),
    "pqc_session_free": (None, (c_void_p,)),
    "pqc_session_close": (c_int, (c_void_p,)),
    "pqc_session_id": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_session_peer_id": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_session_needs_reply": (c_int, (c_void_p, POINTER(c_int))),
    "pqc_session_save": (c_int, (c_void_p,)),
    "pqc_session_protect": (
        c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    "pqc_session_unprotect": (
        c_int, (c_void_p, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    "pqc_session_protect_batch": (
        c_int,
        (c_void_p, c_void_p, c_void_p, c_size_t, _buf, c_size_t, c_void_p, _size_p),
    ),
    "pqc_session_unprotect_batch": (
        c_int,
        (c_void_p, c_void_p, c_void_p, c_size_t, _buf, c_size_t, c_void_p, c_void_p,
         _size_p),
    ),
    "pqc_seal_overhead_max": (c_size_t, ()),
    "pqc_seal": (
        c_int,
        (c_void_p, c_char_p, c_char_p, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    "pqc_open": (
        c_int,
        (c_void_p, _buf, c_size_t, c_char_p, _buf, c_size_t, _size_p, _buf, c_size_t),
    ),
    # MQTT. Option and stats structures are passed as void pointers to the
    # ctypes Structures of mqtt.py, which checks their sizes at import.
    "pqc_mqtt_options_size": (c_size_t, ()),
    "pqc_mqtt_stats_size": (c_size_t, ()),
    "pqc_mqtt_new": (c_int, (c_void_p, c_char_p, c_void_p, _handle_p)),
    "pqc_mqtt_connect": (c_int, (c_void_p, c_int)),
    "pqc_mqtt_publish": (c_int, (c_void_p, c_char_p, _buf, c_size_t, c_int)),
    "pqc_mqtt_subscribe": (c_int, (c_void_p, c_char_p)),
    "pqc_mqtt_recv": (
        c_int,
        (c_void_p, c_int, _buf, c_size_t, _buf, c_size_t, _buf, c_size_t, _size_p),
    ),
    "pqc_mqtt_set_callback": (c_int, (c_void_p, MQTT_CALLBACK, c_void_p)),
    "pqc_mqtt_stats": (c_int, (c_void_p, c_void_p)),
    "pqc_mqtt_close": (c_int, (c_void_p,)),
    "pqc_mqtt_free": (None, (c_void_p,)),
    "pqc_mqtt_broker_new": (c_int, (c_char_p, _handle_p)),
    "pqc_mqtt_broker_url": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_mqtt_broker_free": (None, (c_void_p,)),
    "pqc_ca_allow_topics": (
        c_int,
        (c_void_p, c_char_p, _buf, c_size_t, c_char_p, c_char_p, c_char_p),
    ),
}


def _library_path() -> Path:
    override = os.environ.get(LIBRARY_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise ImportError(
                f"pqc_iiot: {LIBRARY_ENV}={override!r} does not name a file; "
                "point it at a libpqc_iiot.so or unset it to use the bundled library"
            )
        return path.resolve()
    if not BUNDLED_LIBRARY.is_file():
        raise ImportError(
            f"pqc_iiot: the bundled library {BUNDLED_LIBRARY} is missing; "
            "reinstall the package with `pip install <repo>/bindings/python` "
            f"(which builds it with Go) or set {LIBRARY_ENV} to a libpqc_iiot.so"
        )
    return BUNDLED_LIBRARY


def _load(path: Path) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise ImportError(f"pqc_iiot: cannot load {path}: {exc}") from exc
    missing = [name for name in _PROTOTYPES if not hasattr(lib, name)]
    if missing:
        raise ImportError(
            f"pqc_iiot: {path} lacks {', '.join(missing)}; it is not a "
            "libpqc_iiot this package can use"
        )
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn: Callable[..., Any] = getattr(lib, name)
        fn.restype = restype  # type: ignore[attr-defined]
        fn.argtypes = list(argtypes)  # type: ignore[attr-defined]
    abi = lib.pqc_abi_version()
    if abi != ABI_VERSION:
        raise ImportError(
            f"pqc_iiot: {path} has ABI version {abi}, but this package was "
            f"written for ABI version {ABI_VERSION}; install matching versions "
            "of the package and the library"
        )
    return lib


library_path: Path = _library_path()
lib: ctypes.CDLL = _load(library_path)


def last_error() -> str:
    """The calling thread's detail of its most recent failed call."""
    raw = lib.pqc_last_error()
    return raw.decode("utf-8", "replace") if raw else ""


def strerror(status: int) -> str:
    raw = lib.pqc_strerror(status)
    return raw.decode("utf-8", "replace") if raw else "unknown status"
