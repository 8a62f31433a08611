'use strict';
// Finding libpqc_iiot and declaring the prototypes of include/pqc_iiot.h for
// koffi. This module is loaded on whichever thread makes the calls: the
// worker (lib/worker.js) in normal use, the main thread only in the
// benchmark that compares the ways of calling.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

// The ABI of include/pqc_iiot.h this package was written against.
const ABI_VERSION = 1;
const LIBRARY_ENV = 'PQC_IIOT_LIBRARY';
const PACKAGE_DIR = path.resolve(__dirname, '..');
const BUNDLED_LIBRARY = path.join(PACKAGE_DIR, 'lib', 'native', 'libpqc_iiot.so');
const REPO_LIBRARY = path.resolve(PACKAGE_DIR, '..', '..', 'build', 'lib', 'libpqc_iiot.so');

const OBJECT_MAX_BYTES = 262144;
const REVOCATION_MAX_BYTES = 524288;
const KEY_ID_BYTES = 16;
const KEYSTORE_PASSPHRASE = 0;
const KEYSTORE_RAW_KEY = 1;

// Where the library is taken from, first match wins. An explicit
// PQC_IIOT_LIBRARY that does not exist is an error rather than a reason to
// fall through: silently using another copy would hide a deployment mistake.
function candidates() {
  const env = process.env[LIBRARY_ENV];
  if (env) return [{ path: path.resolve(env), source: LIBRARY_ENV, required: true }];
  return [
    { path: BUNDLED_LIBRARY, source: 'bundled' },
    { path: REPO_LIBRARY, source: 'repository build' },
  ];
}

function locate() {
  const list = candidates();
  for (const c of list) {
    if (fs.existsSync(c.path)) return c;
    if (c.required) {
      throw new Error(`${LIBRARY_ENV}=${c.path}: no such file`);
    }
  }
  throw new Error(
    'libpqc_iiot.so not found; looked at ' + list.map((c) => c.path).join(', ') +
    `. Set ${LIBRARY_ENV}, or run \`npm run build:native\` inside the pqc-iiot repository.`);
}

// Output byte buffers are plain pointers, not _Out_: koffi then hands the
// Buffer's own memory to the library instead of a temporary copy, so a
// secret key or shared secret is written once, where the caller will wipe
// it. Scalars and handles written by the library are _Out_ (one-element
// arrays on the JS side).
const PROTOTYPES = [
  'const char *pqc_version(void)',
  'int pqc_abi_version(void)',
  'const char *pqc_strerror(int status)',
  'const char *pqc_last_error(void)',
  'int pqc_random_bytes(uint8_t *buf, size_t len)',

  'size_t pqc_kem_algorithm_count(void)',
  'const char *pqc_kem_algorithm_name(size_t i)',
  'int pqc_kem_new(const char *alg, _Out_ pqc_kem **out)',
  'void pqc_kem_free(pqc_kem *kem)',
  'const char *pqc_kem_algorithm(const pqc_kem *kem)',
  'size_t pqc_kem_public_key_size(const pqc_kem *kem)',
  'size_t pqc_kem_secret_key_size(const pqc_kem *kem)',
  'size_t pqc_kem_ciphertext_size(const pqc_kem *kem)',
  'size_t pqc_kem_shared_secret_size(const pqc_kem *kem)',
  'size_t pqc_kem_seed_size(const pqc_kem *kem)',
  'int pqc_kem_keypair(const pqc_kem *kem, uint8_t *pk, size_t pk_len, uint8_t *sk, size_t sk_len)',
  'int pqc_kem_keypair_from_seed(const pqc_kem *kem, const uint8_t *seed, size_t seed_len, uint8_t *pk, size_t pk_len, uint8_t *sk, size_t sk_len)',
  'int pqc_kem_encapsulate(const pqc_kem *kem, const uint8_t *pk, size_t pk_len, uint8_t *ct, size_t ct_len, uint8_t *ss, size_t ss_len)',
  'int pqc_kem_decapsulate(const pqc_kem *kem, const uint8_t *sk, size_t sk_len, const uint8_t *ct, size_t ct_len, uint8_t *ss, size_t ss_len)',

  'size_t pqc_sig_algorithm_count(void)',
  'const char *pqc_sig_algorithm_name(size_t i)',
  'int pqc_sig_new(const char *alg, _Out_ pqc_sig **out)',
  'void pqc_sig_free(pqc_sig *sig)',
  'const char *pqc_sig_algorithm(const pqc_sig *sig)',
  'size_t pqc_sig_public_key_size(const pqc_sig *sig)',
  'size_t pqc_sig_secret_key_size(const pqc_sig *sig)',
  'size_t pqc_sig_signature_max_size(const pqc_sig *sig)',
  'size_t pqc_sig_seed_size(const pqc_sig *sig)',
  'int pqc_sig_keypair(const pqc_sig *sig, uint8_t *pk, size_t pk_len, uint8_t *sk, size_t sk_len)',
  'int pqc_sig_keypair_from_seed(const pqc_sig *sig, const uint8_t *seed, size_t seed_len, uint8_t *pk, size_t pk_len, uint8_t *sk, size_t sk_len)',
  'int pqc_sig_sign(const pqc_sig *sig, const uint8_t *sk, size_t sk_len, const uint8_t *msg, size_t msg_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len)',
  'int pqc_sig_verify(const pqc_sig *sig, const uint8_t *pk, size_t pk_len, const uint8_t *msg, size_t msg_len, const uint8_t *signature, size_t signature_len)',

  'int pqc_identity_create(const char *path, int key_kind, const uint8_t *key, size_t key_len, const char *device_id, const char *factory_alg, const char *sig_alg, const char *kem_algs, _Out_ pqc_identity **out)',
  'int pqc_identity_open(const char *path, int key_kind, const uint8_t *key, size_t key_len, _Out_ pqc_identity **out)',
  'void pqc_identity_free(pqc_identity *id)',
  'int pqc_identity_device_id(const pqc_identity *id, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_factory_public_key(const pqc_identity *id, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_join_request(pqc_identity *id, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_renewal_request(pqc_identity *id, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_install(pqc_identity *id, const uint8_t *chain, size_t chain_len, const uint8_t *anchor, size_t anchor_len, uint64_t overlap_seconds)',
  'int pqc_identity_chain(const pqc_identity *id, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_epoch(const pqc_identity *id, _Out_ uint64_t *epoch)',
  'int pqc_identity_key_id(const pqc_identity *id, uint8_t *out, size_t out_len)',
  'int pqc_identity_public_key(const pqc_identity *id, const char *alg, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_announcement(pqc_identity *id, const char *topic, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_apply_policy(pqc_identity *id, const uint8_t *policy, size_t policy_len)',
  'int pqc_identity_apply_revocation(pqc_identity *id, const uint8_t *list, size_t list_len)',
  'int pqc_identity_rotation_due(const pqc_identity *id, uint64_t interval_seconds, _Out_ int *due)',
  'int pqc_identity_prune(pqc_identity *id, _Out_ int *pruned)',

  'int pqc_trust_new(const uint8_t *anchor, size_t anchor_len, _Out_ pqc_trust **out)',
  'void pqc_trust_free(pqc_trust *trust)',
  'int pqc_trust_apply_policy(pqc_trust *trust, const uint8_t *policy, size_t policy_len)',
  'int pqc_trust_apply_revocation(pqc_trust *trust, const uint8_t *list, size_t list_len)',
  'int pqc_trust_check_policy(const pqc_trust *trust)',
  'int pqc_trust_verify_chain(const pqc_trust *trust, const uint8_t *chain, size_t chain_len, int64_t at_unix, uint8_t *device_id, size_t cap, _Out_ size_t *out_len)',

  'int pqc_ca_create(const char *path, int key_kind, const uint8_t *key, size_t key_len, const char *name, const char *alg, uint64_t validity_seconds, _Out_ pqc_ca **out)',
  'int pqc_ca_open(const char *path, int key_kind, const uint8_t *key, size_t key_len, _Out_ pqc_ca **out)',
  'void pqc_ca_free(pqc_ca *ca)',
  'int pqc_ca_certificate(const pqc_ca *ca, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_ca_allow(pqc_ca *ca, const char *device_id, const uint8_t *factory_key, size_t factory_key_len, const char *roles)',
  'int pqc_ca_enroll(pqc_ca *ca, const uint8_t *request, size_t request_len, uint64_t validity_seconds, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_ca_sign_policy(pqc_ca *ca, uint64_t ttl_seconds, const char *allowed_kems, const char *allowed_sigs, uint64_t rekey_messages, uint64_t rekey_seconds, int require_sessions, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_ca_revoke(pqc_ca *ca, const uint8_t *key_ids, size_t count, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_ca_allow_topics(pqc_ca *ca, const char *device_id, const uint8_t *factory_key, size_t factory_key_len, const char *roles, const char *publish, const char *subscribe)',

  'size_t pqc_signed_max_content(void)',
  'int pqc_identity_sign(pqc_identity *id, const char *context, const uint8_t *msg, size_t msg_len, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_identity_verify_signed(pqc_identity *id, const uint8_t *env, size_t env_len, const char *context, uint8_t *out, size_t cap, _Out_ size_t *out_len, uint8_t *sender, size_t sender_cap, _Out_ int64_t *signed_at)',
  'int pqc_trust_verify_signed(const pqc_trust *trust, const uint8_t *env, size_t env_len, const char *context, uint8_t *out, size_t cap, _Out_ size_t *out_len, uint8_t *sender, size_t sender_cap, _Out_ int64_t *signed_at)',

  'int pqc_session_manager_new(pqc_identity *id, uint32_t flags, _Out_ pqc_session_manager **out)',
  'void pqc_session_manager_free(pqc_session_manager *m)',
  'int pqc_session_manager_add_peer(pqc_session_manager *m, const uint8_t *chain, size_t chain_len, uint8_t *device_id, size_t cap, _Out_ size_t *out_len)',
  'int pqc_session_manager_accept_announcement(pqc_session_manager *m, const uint8_t *ann, size_t ann_len, const char *topic)',
  'size_t pqc_seal_overhead_max(void)',
  'int pqc_seal(pqc_session_manager *m, const char *recipient_id, const char *context, const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_open(pqc_session_manager *m, const uint8_t *frame, size_t frame_len, const char *context, uint8_t *out, size_t cap, _Out_ size_t *out_len, uint8_t *sender, size_t sender_cap)',

  'size_t pqc_mqtt_options_size(void)',
  'size_t pqc_mqtt_stats_size(void)',
  'int pqc_mqtt_new(pqc_identity *id, const char *broker_url, const pqc_mqtt_options *opts, _Out_ pqc_mqtt_client **out)',
  'int pqc_mqtt_connect(pqc_mqtt_client *c, int timeout_ms)',
  'int pqc_mqtt_publish(pqc_mqtt_client *c, const char *topic, const uint8_t *payload, size_t len, int timeout_ms)',
  'int pqc_mqtt_subscribe(pqc_mqtt_client *c, const char *filter)',
  'int pqc_mqtt_stats(const pqc_mqtt_client *c, _Inout_ pqc_mqtt_stats_t *out)',
  'int pqc_mqtt_close(pqc_mqtt_client *c)',
  'void pqc_mqtt_free(pqc_mqtt_client *c)',
  'int pqc_mqtt_broker_new(const char *addr, _Out_ pqc_mqtt_broker **out)',
  'int pqc_mqtt_broker_url(const pqc_mqtt_broker *b, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'void pqc_mqtt_broker_free(pqc_mqtt_broker *b)',

  'size_t pqc_coap_options_size(void)',
  'int pqc_coap_server_new(pqc_identity *id, const pqc_coap_options *opts, _Out_ pqc_coap_server **out)',
  'int pqc_coap_server_listen(pqc_coap_server *s, const char *addr)',
  'int pqc_coap_server_addr(const pqc_coap_server *s, uint8_t *out, size_t cap, _Out_ size_t *out_len)',
  'int pqc_coap_server_add_peer(pqc_coap_server *s, const uint8_t *chain, size_t chain_len)',
  'int pqc_coap_server_handle(pqc_coap_server *s, const char *path)',
  'int pqc_coap_server_respond(pqc_coap_server *s, uint64_t request_id, uint32_t code, int content_format, const uint8_t *payload, size_t len)',
  'int pqc_coap_server_notify(pqc_coap_server *s, const char *path, int content_format, const uint8_t *payload, size_t len, _Out_ size_t *sent)',
  'int pqc_coap_server_close(pqc_coap_server *s)',
  'void pqc_coap_server_free(pqc_coap_server *s)',
  'int pqc_coap_client_new(pqc_identity *id, const char *addr, const pqc_coap_options *opts, _Out_ pqc_coap_client **out)',
  'int pqc_coap_client_add_peer(pqc_coap_client *c, const uint8_t *chain, size_t chain_len)',
  'int pqc_coap_client_close(pqc_coap_client *c)',
  'void pqc_coap_client_free(pqc_coap_client *c)',
  // Observations are made and cancelled on a client's own thread
  // (lib/coap-thread.js), which hands back the address; the library checks
  // it like any handle.
  'void pqc_coap_observe_free(uintptr_t o)',
];

// pqc_mqtt_recv for the receiver thread (lib/receiver.js), which gets the
// client as the address the library issued: a koffi pointer object cannot
// cross threads, a number can. The library checks every handle it is
// given, so a stale address answers PQC_ERR_CLOSED.
const RECEIVER_PROTOTYPES = [
  'int pqc_mqtt_recv(uintptr_t c, int timeout_ms, uint8_t *topic, size_t topic_cap, uint8_t *sender, size_t sender_cap, uint8_t *payload, size_t cap, _Out_ size_t *payload_len)',
  'const char *pqc_last_error(void)',
];

// The calls that block (a CoAP exchange, waiting for a request or a
// notification) run on threads of their own (lib/coap-thread.js), by
// address as for pqc_mqtt_recv, so they never hold up the shared worker
// that the server's answers go through.
const COAP_THREAD_PROTOTYPES = [
  'int pqc_coap_server_recv(uintptr_t s, int timeout_ms, _Out_ uint64_t *request_id, _Out_ uint32_t *method, uint8_t *path, size_t path_cap, uint8_t *query, size_t query_cap, uint8_t *sender, size_t sender_cap, _Out_ int *content_format, uint8_t *payload, size_t cap, _Out_ size_t *payload_len)',
  'int pqc_coap_client_request(uintptr_t c, uint32_t method, const char *path, int content_format, const uint8_t *payload, size_t len, int timeout_ms, _Out_ uint32_t *code, _Out_ int *resp_format, uint8_t *out, size_t cap, _Out_ size_t *out_len, uint8_t *sender, size_t sender_cap)',
  'int pqc_coap_client_observe(uintptr_t c, const char *path, int timeout_ms, _Out_ uintptr_t *out)',
  'int pqc_coap_observe_cancel(uintptr_t o)',
  'int pqc_coap_observe_recv(uintptr_t o, int timeout_ms, _Out_ uint32_t *code, _Out_ int *format, uint8_t *out, size_t cap, _Out_ size_t *out_len, uint8_t *sender, size_t sender_cap)',
  'const char *pqc_last_error(void)',
];

const COAP_MAX_PAYLOAD = 65536;
const COAP_URI_MAX_BYTES = 1024;
const COAP_NO_FORMAT = -1;

const SEALED_MAX_PLAINTEXT = 49152;
const MQTT_MAX_PAYLOAD = 49152;
const MQTT_TOPIC_MAX_BYTES = 513;
const DEVICE_ID_MAX_BYTES = 129;
const SIGNED_MAX_CONTENT = 65536;

// The structures of include/pqc_iiot.h, checked against the library's own
// sizes at load so a mismatch fails loudly instead of corrupting memory.
const STRUCTS = {
  pqc_mqtt_options: {
    struct_size: 'uint32_t', mode: 'uint32_t', client_id: 'const char *', username: 'const char *',
    password: 'const char *', recipients: 'const char *', flags: 'uint32_t',
    keepalive_seconds: 'uint32_t', connect_timeout_ms: 'uint32_t', queue_size: 'uint32_t',
    tls_ca_file: 'const char *', tls_cert_file: 'const char *', tls_key_file: 'const char *',
    tls_server_name: 'const char *',
  },
  pqc_mqtt_stats_t: {
    struct_size: 'uint32_t', reserved: 'uint32_t',
    delivered: 'uint64_t', published: 'uint64_t', publish_failed: 'uint64_t', queue_full: 'uint64_t',
    dropped_oversize: 'uint64_t', dropped_bad_topic: 'uint64_t', dropped_rate_limited: 'uint64_t',
    dropped_unprotect: 'uint64_t', dropped_not_for_me: 'uint64_t', dropped_control: 'uint64_t',
    accepted_announcements: 'uint64_t', accepted_handshakes: 'uint64_t', reconnects: 'uint64_t',
    connection_lost: 'uint64_t',
  },
  pqc_coap_options: {
    struct_size: 'uint32_t', mode: 'uint32_t', flags: 'uint32_t', timeout_ms: 'uint32_t',
    peer: 'const char *', acl: 'const char *', dtls_psk_identity: 'const char *',
    dtls_psk: 'const uint8_t *', dtls_psk_len: 'size_t',
    ack_timeout_ms: 'uint32_t', max_retransmit: 'uint32_t',
    dtls_cert_file: 'const char *', dtls_key_file: 'const char *', dtls_ca_file: 'const char *',
    dtls_server_name: 'const char *',
  },
};

let loaded = null;

// Module state is per thread (per isolate), so each thread that uses this
// loads the library once. dlopen hands every thread the same mapping, so the
// Go runtime inside still starts once per process, as docs/c-api.md demands
// (loaded once, never unloaded).
const OPAQUE = ['pqc_kem', 'pqc_sig', 'pqc_identity', 'pqc_trust', 'pqc_ca',
  'pqc_session_manager', 'pqc_mqtt_client', 'pqc_mqtt_broker', 'pqc_coap_server', 'pqc_coap_client'];

function declareTypes() {
  for (const name of OPAQUE) {
    try { koffi.opaque(name); } catch (e) { /* already declared on this thread */ }
  }
  for (const [name, fields] of Object.entries(STRUCTS)) {
    try { koffi.struct(name, fields); } catch (e) { /* already declared on this thread */ }
  }
}

function load() {
  if (loaded) return loaded;
  const where = locate();
  const lib = koffi.load(where.path);
  declareTypes();
  // The ABI number first: a library of another ABI may lack or change the
  // functions declared below, and that should read as a version mismatch.
  let abi;
  try {
    abi = lib.func('int pqc_abi_version(void)')();
  } catch (err) {
    throw new Error(`${where.path} is not libpqc_iiot (no pqc_abi_version): ${err.message}`);
  }
  if (abi !== ABI_VERSION) {
    throw new Error(
      `${where.path} has ABI version ${abi}, this package needs ${ABI_VERSION}; ` +
      'rebuild the library or install the matching package');
  }
  const fn = {};
  for (const proto of PROTOTYPES) {
    const f = lib.func(proto);
    fn[f.info.name] = f;
  }
  for (const [name, sizeFn] of [['pqc_mqtt_options', 'pqc_mqtt_options_size'], ['pqc_mqtt_stats_t', 'pqc_mqtt_stats_size'],
    ['pqc_coap_options', 'pqc_coap_options_size']]) {
    const theirs = Number(fn[sizeFn]());
    if (koffi.sizeof(name) !== theirs) {
      throw new Error(`${where.path}: ${name} is ${theirs} bytes, this package declares ${koffi.sizeof(name)}`);
    }
  }
  loaded = { lib, fn, path: where.path, source: where.source, version: fn.pqc_version() };
  return loaded;
}

let receiverLoaded = null;

// The few functions the receiver thread needs, declared on that thread.
function loadReceiver() {
  if (receiverLoaded) return receiverLoaded;
  const lib = koffi.load(locate().path);
  const fn = {};
  for (const proto of RECEIVER_PROTOTYPES) {
    const f = lib.func(proto);
    fn[f.info.name] = f;
  }
  receiverLoaded = { lib, fn };
  return receiverLoaded;
}

let coapLoaded = null;

// The blocking CoAP calls, declared on the thread that makes them.
function loadCoapThread() {
  if (coapLoaded) return coapLoaded;
  const lib = koffi.load(locate().path);
  const fn = {};
  for (const proto of COAP_THREAD_PROTOTYPES) {
    const f = lib.func(proto);
    fn[f.info.name] = f;
  }
  coapLoaded = { lib, fn };
  return coapLoaded;
}

module.exports = {
  COAP_MAX_PAYLOAD, COAP_URI_MAX_BYTES, COAP_NO_FORMAT, loadCoapThread,
  ABI_VERSION, LIBRARY_ENV, BUNDLED_LIBRARY, REPO_LIBRARY,
  OBJECT_MAX_BYTES, REVOCATION_MAX_BYTES, KEY_ID_BYTES,
  KEYSTORE_PASSPHRASE, KEYSTORE_RAW_KEY,
  SEALED_MAX_PLAINTEXT, MQTT_MAX_PAYLOAD, MQTT_TOPIC_MAX_BYTES, DEVICE_ID_MAX_BYTES, SIGNED_MAX_CONTENT,
  locate, load, loadReceiver,
};
