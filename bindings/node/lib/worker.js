'use strict';
// The thread that owns libpqc_iiot. Every library call of the package runs
// here, synchronously through koffi, one request at a time.
//
// Why a thread of our own: a synchronous koffi call into Go from Node's
// *main* thread costs tens to hundreds of microseconds before any work is
// done (57 µs on the development VM), because the Go runtime re-reads the
// thread's stack bounds on each entry and glibc answers that for the main
// thread by parsing /proc/self/maps. On this thread the same call takes
// 0.4 µs.
//
// Why not koffi's .async() instead: each call is a separate hop through the
// libuv pool (which Node also needs for files and DNS), koffi caps the calls
// in flight, and the pool thread that ran a failing call is not the one that
// runs a follow-up pqc_last_error(), so the per-thread error detail is lost.
// Here the failing call and the pqc_last_error() that explains it run back
// to back on one thread, so the detail always belongs to the call.
// README.md has the measurements (npm run bench).

const { parentPort } = require('node:worker_threads');
const koffi = require('koffi');
const native = require('./native');
const { STATUS_CODES } = require('./status');

let lib;
try {
  lib = native.load();
} catch (err) {
  // Reported on every request rather than by crashing, so the caller sees
  // why (library missing, ABI mismatch) as an ordinary rejected promise.
  lib = { loadError: String(err && err.message ? err.message : err) };
}
const fn = lib.fn;

// Outputs whose size is only known afterwards are written into this buffer
// and copied out at their real length. None of them is secret (signatures,
// chains, public keys, signed objects), so it need not be wiped. It is as
// large as the largest up-front demand of the header (revocation lists).
let scratch = Buffer.alloc(native.REVOCATION_MAX_BYTES);
const outLen = [0];

class CallError extends Error {
  constructor(status, detail, fnName) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.fnName = fnName;
  }
}

// Turns a nonzero status into a CallError carrying pqc_last_error(), read
// immediately, on this thread, before any other library call can replace it.
function check(status, name) {
  if (status !== 0) throw new CallError(status, fn.pqc_last_error(), name);
}

// Handle numbers as issued by the library live only here; the main thread
// sees small integers of its own so that it can never forge a pointer.
const handles = new Map();
let nextHandle = 1;
const FREE = {
  kem: 'pqc_kem_free', sig: 'pqc_sig_free', identity: 'pqc_identity_free',
  trust: 'pqc_trust_free', ca: 'pqc_ca_free', manager: 'pqc_session_manager_free',
  mqtt: 'pqc_mqtt_free', broker: 'pqc_mqtt_broker_free',
  coapServer: 'pqc_coap_server_free', coapClient: 'pqc_coap_client_free',
  observation: 'pqc_coap_observe_free',
};

function put(kind, ptr) {
  const id = nextHandle++;
  handles.set(id, { kind, ptr });
  return id;
}

function get(id, kind) {
  const h = handles.get(id);
  if (!h || h.kind !== kind) {
    throw new CallError(-5, `${kind} handle ${id} is closed or of another type`, 'handle');
  }
  return h.ptr;
}

function bytes(ab) {
  if (ab == null) return null;
  return Buffer.from(ab.buffer || ab, ab.byteOffset || 0, ab.byteLength);
}

function len(b) {
  return b ? b.length : 0;
}

function wipe(b) {
  if (b) b.fill(0);
}

// A fresh, transferable copy of the first n bytes of a buffer.
function copyOut(buf, n) {
  const ab = new ArrayBuffer(n);
  new Uint8Array(ab).set(buf.subarray(0, n));
  return ab;
}

// Calls a (..., out, cap, *out_len) function with the scratch buffer,
// growing it once if the library asks for more.
function variable(name, ...args) {
  let status = fn[name](...args, scratch, scratch.length, outLen);
  if (status === -2 && Number(outLen[0]) > scratch.length) {
    scratch = Buffer.alloc(Number(outLen[0]));
    status = fn[name](...args, scratch, scratch.length, outLen);
  }
  check(status, name);
  return copyOut(scratch, Number(outLen[0]));
}

function cString(ab) {
  const b = Buffer.from(ab);
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}

function names(countFn, nameFn) {
  const out = [];
  const n = Number(fn[countFn]());
  for (let i = 0; i < n; i++) out.push(fn[nameFn](i));
  return out;
}

function keyArgs(key) {
  // key = { kind: 0|1, bytes: ArrayBuffer }; the bytes are a copy made for
  // this request and wiped as soon as the library has read them.
  return [key.kind, bytes(key.bytes)];
}

const ops = {
  info() {
    return {
      version: fn.pqc_version(), abi: fn.pqc_abi_version(),
      path: lib.path, source: lib.source,
    };
  },
  strerror(status) { return fn.pqc_strerror(status); },
  randomBytes(n) {
    const b = Buffer.alloc(n);
    check(fn.pqc_random_bytes(b, n), 'pqc_random_bytes');
    return copyOut(b, n);
  },
  free(id) {
    const h = handles.get(id);
    if (h) {
      handles.delete(id);
      fn[FREE[h.kind]](h.ptr);
    }
    return null;
  },
  // Trivial round trip, for the benchmark: enters Go, does almost nothing.
  kemPublicKeySize(id) { return Number(fn.pqc_kem_public_key_size(get(id, 'kem'))); },

  // ---- KEM
  kemAlgorithms() { return names('pqc_kem_algorithm_count', 'pqc_kem_algorithm_name'); },
  kemNew(alg) {
    const out = [null];
    check(fn.pqc_kem_new(alg, out), 'pqc_kem_new');
    const p = out[0];
    const sizes = {
      publicKey: Number(fn.pqc_kem_public_key_size(p)),
      secretKey: Number(fn.pqc_kem_secret_key_size(p)),
      ciphertext: Number(fn.pqc_kem_ciphertext_size(p)),
      sharedSecret: Number(fn.pqc_kem_shared_secret_size(p)),
      seed: Number(fn.pqc_kem_seed_size(p)),
    };
    return { handle: put('kem', p), algorithm: fn.pqc_kem_algorithm(p), sizes };
  },
  kemKeypair(id, pkLen, skLen, seedAb) {
    const p = get(id, 'kem');
    const pk = new ArrayBuffer(pkLen);
    const sk = new ArrayBuffer(skLen);
    const seed = bytes(seedAb);
    try {
      const status = seed
        ? fn.pqc_kem_keypair_from_seed(p, seed, seed.length, Buffer.from(pk), pkLen, Buffer.from(sk), skLen)
        : fn.pqc_kem_keypair(p, Buffer.from(pk), pkLen, Buffer.from(sk), skLen);
      check(status, 'pqc_kem_keypair');
    } finally {
      wipe(seed);
    }
    // Transferred, so no copy of the secret key stays on this thread.
    return { publicKey: pk, secretKey: sk };
  },
  kemEncapsulate(id, pkAb, ctLen, ssLen) {
    const p = get(id, 'kem');
    const pk = bytes(pkAb);
    const ct = new ArrayBuffer(ctLen);
    const ss = new ArrayBuffer(ssLen);
    check(fn.pqc_kem_encapsulate(p, pk, len(pk), Buffer.from(ct), ctLen, Buffer.from(ss), ssLen),
      'pqc_kem_encapsulate');
    return { ciphertext: ct, sharedSecret: ss };
  },
  kemDecapsulate(id, skAb, ctAb, ssLen) {
    const p = get(id, 'kem');
    const sk = bytes(skAb);
    const ct = bytes(ctAb);
    const ss = new ArrayBuffer(ssLen);
    try {
      check(fn.pqc_kem_decapsulate(p, sk, len(sk), ct, len(ct), Buffer.from(ss), ssLen),
        'pqc_kem_decapsulate');
    } finally {
      wipe(sk);
    }
    return ss;
  },

  // ---- Signatures
  sigAlgorithms() { return names('pqc_sig_algorithm_count', 'pqc_sig_algorithm_name'); },
  sigNew(alg) {
    const out = [null];
    check(fn.pqc_sig_new(alg, out), 'pqc_sig_new');
    const p = out[0];
    const sizes = {
      publicKey: Number(fn.pqc_sig_public_key_size(p)),
      secretKey: Number(fn.pqc_sig_secret_key_size(p)),
      signatureMax: Number(fn.pqc_sig_signature_max_size(p)),
      seed: Number(fn.pqc_sig_seed_size(p)),
    };
    return { handle: put('sig', p), algorithm: fn.pqc_sig_algorithm(p), sizes };
  },
  sigKeypair(id, pkLen, skLen, seedAb) {
    const p = get(id, 'sig');
    const pk = new ArrayBuffer(pkLen);
    const sk = new ArrayBuffer(skLen);
    const seed = bytes(seedAb);
    try {
      const status = seed
        ? fn.pqc_sig_keypair_from_seed(p, seed, seed.length, Buffer.from(pk), pkLen, Buffer.from(sk), skLen)
        : fn.pqc_sig_keypair(p, Buffer.from(pk), pkLen, Buffer.from(sk), skLen);
      check(status, 'pqc_sig_keypair');
    } finally {
      wipe(seed);
    }
    return { publicKey: pk, secretKey: sk };
  },
  sigSign(id, skAb, msgAb) {
    const p = get(id, 'sig');
    const sk = bytes(skAb);
    const msg = bytes(msgAb);
    try {
      return variable('pqc_sig_sign', p, sk, len(sk), msg, len(msg));
    } finally {
      wipe(sk);
    }
  },
  sigVerify(id, pkAb, msgAb, sigAb) {
    const p = get(id, 'sig');
    const pk = bytes(pkAb);
    const msg = bytes(msgAb);
    const sig = bytes(sigAb);
    const status = fn.pqc_sig_verify(p, pk, len(pk), msg, len(msg), sig, len(sig));
    if (status === -4) return false;
    check(status, 'pqc_sig_verify');
    return true;
  },

  // ---- Identity
  identityCreate(path, key, deviceId, factoryAlg, sigAlg, kemAlgs) {
    const [kind, k] = keyArgs(key);
    const out = [null];
    try {
      check(fn.pqc_identity_create(path, kind, k, len(k), deviceId, factoryAlg, sigAlg, kemAlgs, out),
        'pqc_identity_create');
    } finally {
      wipe(k);
    }
    return put('identity', out[0]);
  },
  identityOpen(path, key) {
    const [kind, k] = keyArgs(key);
    const out = [null];
    try {
      check(fn.pqc_identity_open(path, kind, k, len(k), out), 'pqc_identity_open');
    } finally {
      wipe(k);
    }
    return put('identity', out[0]);
  },
  identityDeviceId(id) { return cString(variable('pqc_identity_device_id', get(id, 'identity'))); },
  identityFactoryPublicKey(id) { return variable('pqc_identity_factory_public_key', get(id, 'identity')); },
  identityJoinRequest(id) { return variable('pqc_identity_join_request', get(id, 'identity')); },
  identityRenewalRequest(id) { return variable('pqc_identity_renewal_request', get(id, 'identity')); },
  identityInstall(id, chainAb, anchorAb, overlap) {
    const chain = bytes(chainAb);
    const anchor = bytes(anchorAb);
    check(fn.pqc_identity_install(get(id, 'identity'), chain, len(chain), anchor, len(anchor), BigInt(overlap)),
      'pqc_identity_install');
    return null;
  },
  identityChain(id) { return variable('pqc_identity_chain', get(id, 'identity')); },
  identityEpoch(id) {
    const out = [0];
    check(fn.pqc_identity_epoch(get(id, 'identity'), out), 'pqc_identity_epoch');
    return Number(out[0]);
  },
  identityKeyId(id) {
    const b = Buffer.alloc(native.KEY_ID_BYTES);
    check(fn.pqc_identity_key_id(get(id, 'identity'), b, b.length), 'pqc_identity_key_id');
    return copyOut(b, b.length);
  },
  identityPublicKey(id, alg) { return variable('pqc_identity_public_key', get(id, 'identity'), alg); },
  identityAnnouncement(id, topic) { return variable('pqc_identity_announcement', get(id, 'identity'), topic); },
  identityApplyPolicy(id, ab) {
    const b = bytes(ab);
    check(fn.pqc_identity_apply_policy(get(id, 'identity'), b, len(b)), 'pqc_identity_apply_policy');
    return null;
  },
  identityApplyRevocation(id, ab) {
    const b = bytes(ab);
    check(fn.pqc_identity_apply_revocation(get(id, 'identity'), b, len(b)), 'pqc_identity_apply_revocation');
    return null;
  },
  identityRotationDue(id, interval) {
    const out = [0];
    check(fn.pqc_identity_rotation_due(get(id, 'identity'), BigInt(interval), out), 'pqc_identity_rotation_due');
    return out[0] !== 0;
  },
  identityPrune(id) {
    const out = [0];
    check(fn.pqc_identity_prune(get(id, 'identity'), out), 'pqc_identity_prune');
    return out[0] !== 0;
  },

  // ---- Trust
  trustNew(anchorAb) {
    const a = bytes(anchorAb);
    const out = [null];
    check(fn.pqc_trust_new(a, len(a), out), 'pqc_trust_new');
    return put('trust', out[0]);
  },
  trustApplyPolicy(id, ab) {
    const b = bytes(ab);
    check(fn.pqc_trust_apply_policy(get(id, 'trust'), b, len(b)), 'pqc_trust_apply_policy');
    return null;
  },
  trustApplyRevocation(id, ab) {
    const b = bytes(ab);
    check(fn.pqc_trust_apply_revocation(get(id, 'trust'), b, len(b)), 'pqc_trust_apply_revocation');
    return null;
  },
  trustCheckPolicy(id) {
    check(fn.pqc_trust_check_policy(get(id, 'trust')), 'pqc_trust_check_policy');
    return null;
  },
  trustVerifyChain(id, chainAb, at) {
    const c = bytes(chainAb);
    return cString(variable('pqc_trust_verify_chain', get(id, 'trust'), c, len(c), BigInt(at)));
  },

  // ---- CA
  caCreate(path, key, name, alg, validity) {
    const [kind, k] = keyArgs(key);
    const out = [null];
    try {
      check(fn.pqc_ca_create(path, kind, k, len(k), name, alg, BigInt(validity), out), 'pqc_ca_create');
    } finally {
      wipe(k);
    }
    return put('ca', out[0]);
  },
  caOpen(path, key) {
    const [kind, k] = keyArgs(key);
    const out = [null];
    try {
      check(fn.pqc_ca_open(path, kind, k, len(k), out), 'pqc_ca_open');
    } finally {
      wipe(k);
    }
    return put('ca', out[0]);
  },
  caCertificate(id) { return variable('pqc_ca_certificate', get(id, 'ca')); },
  caAllow(id, deviceId, keyAb, roles) {
    const k = bytes(keyAb);
    check(fn.pqc_ca_allow(get(id, 'ca'), deviceId, k, len(k), roles), 'pqc_ca_allow');
    return null;
  },
  caEnroll(id, reqAb, validity) {
    const r = bytes(reqAb);
    return variable('pqc_ca_enroll', get(id, 'ca'), r, len(r), BigInt(validity));
  },
  caSignPolicy(id, o) {
    return variable('pqc_ca_sign_policy', get(id, 'ca'), BigInt(o.ttlSeconds), o.allowedKems, o.allowedSigs,
      BigInt(o.rekeyMessages), BigInt(o.rekeySeconds), o.requireSessions ? 1 : 0);
  },
  caRevoke(id, idsAb) {
    const ids = bytes(idsAb);
    return variable('pqc_ca_revoke', get(id, 'ca'), ids, len(ids) / native.KEY_ID_BYTES);
  },
};

// A verified signed envelope's parts; the content is never longer than the
// envelope, so one call with a buffer of the envelope's size suffices.
function verifySigned(name, p, envAb, context) {
  const env = bytes(envAb);
  const out = Buffer.alloc(Math.max(len(env), 1));
  const sender = Buffer.alloc(native.DEVICE_ID_MAX_BYTES);
  const at = [0];
  check(fn[name](p, env, len(env), context, out, out.length, outLen, sender, sender.length, at), name);
  return { sender: cString(sender), content: copyOut(out, Number(outLen[0])), signedAt: Number(at[0]) };
}

function mqttOptions(o = {}) {
  return {
    struct_size: koffi.sizeof('pqc_mqtt_options'),
    mode: o.mode || 0,
    client_id: o.clientId || null,
    username: o.username || null,
    password: o.password || null,
    recipients: o.recipients || null,
    flags: o.flags || 0,
    keepalive_seconds: o.keepaliveSeconds || 0,
    connect_timeout_ms: o.connectTimeoutMs || 0,
    queue_size: o.queueSize || 0,
    tls_ca_file: o.tlsCaFile || null,
    tls_cert_file: o.tlsCertFile || null,
    tls_key_file: o.tlsKeyFile || null,
    tls_server_name: o.tlsServerName || null,
  };
}

const STATS_FIELDS = [
  'delivered', 'published', 'publish_failed', 'queue_full', 'dropped_oversize', 'dropped_bad_topic',
  'dropped_rate_limited', 'dropped_unprotect', 'dropped_not_for_me', 'dropped_control',
  'accepted_announcements', 'accepted_handshakes', 'reconnects', 'connection_lost',
];

Object.assign(ops, {
  // ---- Signed envelopes
  identitySign(id, context, msgAb) {
    const m = bytes(msgAb);
    return variable('pqc_identity_sign', get(id, 'identity'), context, m, len(m));
  },
  identityVerifySigned(id, envAb, context) {
    return verifySigned('pqc_identity_verify_signed', get(id, 'identity'), envAb, context);
  },
  trustVerifySigned(id, envAb, context) {
    return verifySigned('pqc_trust_verify_signed', get(id, 'trust'), envAb, context);
  },
  caAllowTopics(id, deviceId, keyAb, roles, publish, subscribe) {
    const k = bytes(keyAb);
    check(fn.pqc_ca_allow_topics(get(id, 'ca'), deviceId, k, len(k), roles, publish, subscribe), 'pqc_ca_allow_topics');
    return null;
  },

  // ---- Session manager: sealed messages
  managerNew(identityId, flags) {
    const out = [null];
    check(fn.pqc_session_manager_new(get(identityId, 'identity'), flags, out), 'pqc_session_manager_new');
    return put('manager', out[0]);
  },
  managerAddPeer(id, chainAb) {
    const c = bytes(chainAb);
    const name = Buffer.alloc(native.DEVICE_ID_MAX_BYTES);
    check(fn.pqc_session_manager_add_peer(get(id, 'manager'), c, len(c), name, name.length, outLen),
      'pqc_session_manager_add_peer');
    return cString(name);
  },
  managerAcceptAnnouncement(id, annAb, topic) {
    const a = bytes(annAb);
    check(fn.pqc_session_manager_accept_announcement(get(id, 'manager'), a, len(a), topic),
      'pqc_session_manager_accept_announcement');
    return null;
  },
  seal(id, recipient, context, ptAb) {
    const pt = bytes(ptAb);
    // Sealing takes a sequence number: the library wants the full
    // capacity up front, so this never has to be retried.
    const cap = len(pt) + Number(fn.pqc_seal_overhead_max());
    const out = Buffer.alloc(cap);
    try {
      check(fn.pqc_seal(get(id, 'manager'), recipient, context, pt, len(pt), out, cap, outLen), 'pqc_seal');
    } finally {
      wipe(pt);
    }
    return copyOut(out, Number(outLen[0]));
  },
  open(id, frameAb, context) {
    const f = bytes(frameAb);
    const out = Buffer.alloc(Math.max(len(f), 1));
    const sender = Buffer.alloc(native.DEVICE_ID_MAX_BYTES);
    check(fn.pqc_open(get(id, 'manager'), f, len(f), context, out, out.length, outLen, sender, sender.length), 'pqc_open');
    const plaintext = copyOut(out, Number(outLen[0]));
    wipe(out);
    return { sender: cString(sender), plaintext };
  },

  // ---- MQTT
  mqttNew(identityId, url, opts) {
    const out = [null];
    check(fn.pqc_mqtt_new(get(identityId, 'identity'), url, mqttOptions(opts), out), 'pqc_mqtt_new');
    // The address goes to the receiver thread (lib/receiver.js) for
    // pqc_mqtt_recv; the handle number stays the main thread's name for it.
    return { handle: put('mqtt', out[0]), address: koffi.address(out[0]) };
  },
  mqttConnect(id, timeoutMs) {
    check(fn.pqc_mqtt_connect(get(id, 'mqtt'), timeoutMs), 'pqc_mqtt_connect');
    return null;
  },
  mqttPublish(id, topic, payloadAb, timeoutMs) {
    const p = bytes(payloadAb);
    check(fn.pqc_mqtt_publish(get(id, 'mqtt'), topic, p, len(p), timeoutMs), 'pqc_mqtt_publish');
    return null;
  },
  mqttSubscribe(id, filter) {
    check(fn.pqc_mqtt_subscribe(get(id, 'mqtt'), filter), 'pqc_mqtt_subscribe');
    return null;
  },
  mqttStats(id) {
    const s = { struct_size: koffi.sizeof('pqc_mqtt_stats_t'), reserved: 0 };
    for (const f of STATS_FIELDS) s[f] = 0;
    check(fn.pqc_mqtt_stats(get(id, 'mqtt'), s), 'pqc_mqtt_stats');
    const out = {};
    for (const f of STATS_FIELDS) out[f] = Number(s[f]);
    return out;
  },
  mqttClose(id) {
    check(fn.pqc_mqtt_close(get(id, 'mqtt')), 'pqc_mqtt_close');
    return null;
  },
  brokerNew(addr) {
    const out = [null];
    check(fn.pqc_mqtt_broker_new(addr, out), 'pqc_mqtt_broker_new');
    const handle = put('broker', out[0]);
    const url = cString(variable('pqc_mqtt_broker_url', out[0]));
    return { handle, url };
  },
});

// The options structure; psk is a copy made for this call, wiped by the
// caller once the library has read it.
function coapOptions(o, psk) {
  return {
    struct_size: koffi.sizeof('pqc_coap_options'),
    mode: o.mode, flags: o.flags, timeout_ms: o.timeoutMs,
    peer: o.peer, acl: o.acl,
    dtls_psk_identity: o.pskIdentity, dtls_psk: psk, dtls_psk_len: len(psk),
    ack_timeout_ms: o.ackTimeoutMs, max_retransmit: o.maxRetransmit,
    dtls_cert_file: o.certFile, dtls_key_file: o.keyFile, dtls_ca_file: o.caFile,
    dtls_server_name: o.serverName,
  };
}

function optionalIdentity(identityId) {
  return identityId == null ? null : get(identityId, 'identity');
}

Object.assign(ops, {
  // ---- CoAP (the blocking calls are in lib/coap-thread.js)
  coapServerNew(identityId, o, pskAb) {
    const psk = bytes(pskAb);
    const out = [null];
    try {
      check(fn.pqc_coap_server_new(optionalIdentity(identityId), coapOptions(o, psk), out), 'pqc_coap_server_new');
    } finally {
      wipe(psk);
    }
    return { handle: put('coapServer', out[0]), address: koffi.address(out[0]) };
  },
  coapServerListen(id, addr) {
    const p = get(id, 'coapServer');
    check(fn.pqc_coap_server_listen(p, addr), 'pqc_coap_server_listen');
    return cString(variable('pqc_coap_server_addr', p));
  },
  coapServerAddPeer(id, chainAb) {
    const c = bytes(chainAb);
    check(fn.pqc_coap_server_add_peer(get(id, 'coapServer'), c, len(c)), 'pqc_coap_server_add_peer');
    return null;
  },
  coapServerHandle(id, path) {
    check(fn.pqc_coap_server_handle(get(id, 'coapServer'), path), 'pqc_coap_server_handle');
    return null;
  },
  coapServerRespond(id, requestId, code, format, payloadAb) {
    const b = bytes(payloadAb);
    check(fn.pqc_coap_server_respond(get(id, 'coapServer'), BigInt(requestId), code, format, b, len(b)),
      'pqc_coap_server_respond');
    return null;
  },
  coapServerNotify(id, path, format, payloadAb) {
    const b = bytes(payloadAb);
    const sent = [0];
    check(fn.pqc_coap_server_notify(get(id, 'coapServer'), path, format, b, len(b), sent), 'pqc_coap_server_notify');
    return Number(sent[0]);
  },
  coapServerClose(id) {
    check(fn.pqc_coap_server_close(get(id, 'coapServer')), 'pqc_coap_server_close');
    return null;
  },
  coapClientNew(identityId, addr, o, pskAb) {
    const psk = bytes(pskAb);
    const out = [null];
    try {
      check(fn.pqc_coap_client_new(optionalIdentity(identityId), addr, coapOptions(o, psk), out), 'pqc_coap_client_new');
    } finally {
      wipe(psk);
    }
    return { handle: put('coapClient', out[0]), address: koffi.address(out[0]) };
  },
  coapClientAddPeer(id, chainAb) {
    const c = bytes(chainAb);
    check(fn.pqc_coap_client_add_peer(get(id, 'coapClient'), c, len(c)), 'pqc_coap_client_add_peer');
    return null;
  },
  coapClientClose(id) {
    check(fn.pqc_coap_client_close(get(id, 'coapClient')), 'pqc_coap_client_close');
    return null;
  },
  // An observation made on the client's thread becomes a handle here, so
  // that it is cancelled and freed like every other object.
  coapObservationAdopt(address) {
    return put('observation', address);
  },
});

// ArrayBuffers in a result are transferred, not copied: a secret key made
// here then exists only on the receiving side.
function transferables(value, list = []) {
  if (value instanceof ArrayBuffer) list.push(value);
  else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) transferables(v, list);
  }
  return list;
}

parentPort.on('message', (req) => {
  const { id, op, args } = req;
  let reply;
  try {
    if (!fn) throw new Error(lib.loadError);
    const impl = ops[op];
    if (!impl) throw new Error(`unknown operation ${op}`);
    const value = impl(...args);
    reply = { id, ok: true, value };
  } catch (err) {
    if (err instanceof CallError) {
      reply = {
        id, ok: false,
        error: { status: err.status, code: STATUS_CODES[err.status] || 'PQC_ERR_UNKNOWN', detail: err.detail, fn: err.fnName },
      };
    } else {
      reply = { id, ok: false, error: { name: err && err.name, message: String(err && err.message ? err.message : err) } };
    }
  }
  parentPort.postMessage(reply, reply.ok ? transferables(reply.value) : []);
});
