'use strict';
// Plain Node.js API of pqc-iiot: post-quantum KEM and signatures, device
// identities, trust stores and a root CA, over libpqc_iiot.
//
// Every call returns a Promise and runs on one worker thread that owns the
// library (lib/worker.js explains why a worker), so the event loop is never
// blocked by cryptography. Inputs are copied for the call; copies that held
// secrets are wiped by the worker once the library has read them.

const path = require('node:path');
const { EventEmitter } = require('node:events');
const { Worker } = require('node:worker_threads');
const { Client, client } = require('./lib/client');
const { PqcError, STATUS, STATUS_CODES } = require('./lib/errors');
const native = require('./lib/native');

// ---- argument conversion (main thread)

function isBytes(v) {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

// A fresh ArrayBuffer holding the bytes of v, to be transferred to the
// worker. Strings are allowed only where the docs say (messages,
// passphrases) and are encoded as UTF-8.
function copyIn(v, what, { allowString = false, optional = false } = {}) {
  if (v == null && optional) return null;
  if (typeof v === 'string' && allowString) {
    // Encoded straight into its own ArrayBuffer: Buffer.from(string) may use
    // Node's shared pool, where a passphrase would linger after we wipe ours.
    const ab = new ArrayBuffer(Buffer.byteLength(v, 'utf8'));
    Buffer.from(ab).write(v, 'utf8');
    return ab;
  }
  if (v instanceof ArrayBuffer) return v.slice(0);
  if (ArrayBuffer.isView(v)) {
    return v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength);
  }
  throw new TypeError(`${what} must be a Buffer, Uint8Array or ArrayBuffer${allowString ? ' or string' : ''}`);
}

function text(v, what, optional = false) {
  if (v == null && optional) return null;
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
  if (v.includes('\0')) {
    // C would read only up to the NUL: a different path or name.
    throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `${what} contains a NUL character`);
  }
  return v;
}

function list(v, what) {
  if (v == null) return null;
  if (Array.isArray(v)) {
    for (const n of v) {
      if (typeof n !== 'string' || n.includes(',') || !n.trim()) {
        throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `${what}: ${JSON.stringify(n)} is not a single name`);
      }
    }
    return text(v.join(','), what);
  }
  return text(v, what);
}

function seconds(v, what, dflt) {
  if (v == null) v = dflt;
  if (typeof v === 'bigint') v = Number(v);
  // Go turns seconds into int64 nanoseconds; beyond this the value wraps.
  if (!Number.isSafeInteger(v) || v < 0 || v > 9223372036) {
    throw new RangeError(`${what} must be an integer number of seconds in 0..9223372036`);
  }
  return v;
}

// { passphrase } or { rawKey } -> the keystore key argument.
function keystoreKey(opts, what) {
  if (!opts || typeof opts !== 'object') {
    throw new TypeError(`${what}: give { passphrase } or { rawKey }`);
  }
  const hasPass = opts.passphrase != null;
  const hasRaw = opts.rawKey != null;
  if (hasPass === hasRaw) {
    throw new TypeError(`${what}: give exactly one of passphrase and rawKey`);
  }
  if (hasPass) {
    return { kind: native.KEYSTORE_PASSPHRASE, bytes: copyIn(opts.passphrase, 'passphrase', { allowString: true }) };
  }
  const raw = copyIn(opts.rawKey, 'rawKey');
  if (raw.byteLength !== 32) {
    new Uint8Array(raw).fill(0);
    throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `rawKey is ${raw.byteLength} bytes, want 32`);
  }
  return { kind: native.KEYSTORE_RAW_KEY, bytes: raw };
}

const buf = (ab) => Buffer.from(ab);

// ---- handles

// Objects not closed explicitly are freed when garbage-collected.
const registry = new FinalizationRegistry(({ id, generation }) => {
  if (generation === client.generation && client.worker) {
    client.call('free', [id]).catch(() => {});
  }
});

class Handle {
  constructor(id) {
    this._id = id;
    this._generation = client.generation;
    this._token = {};
    registry.register(this, { id, generation: this._generation }, this._token);
  }

  _call(op, args = [], transfer = []) {
    if (this._id === null || this._generation !== client.generation) {
      return Promise.reject(new PqcError(STATUS.PQC_ERR_CLOSED, `${this.constructor.name} is closed`));
    }
    return client.call(op, [this._id, ...args], transfer);
  }

  /** Releases the library object; later calls fail with PQC_ERR_CLOSED. */
  async close() {
    if (this._id === null) return;
    const id = this._id;
    this._id = null;
    registry.unregister(this._token);
    if (this._generation === client.generation && client.worker) {
      await client.call('free', [id]);
    }
  }

  get closed() {
    return this._id === null || this._generation !== client.generation;
  }
}

// ---- KEM

class Kem extends Handle {
  /** Creates a KEM object for the named algorithm (case-insensitive). */
  static async create(algorithm = 'ML-KEM-768') {
    const r = await client.call('kemNew', [text(algorithm, 'algorithm')]);
    return new Kem(r);
  }

  static algorithms() {
    return client.call('kemAlgorithms');
  }

  constructor(r) {
    super(r.handle);
    this.algorithm = r.algorithm;
    this.sizes = Object.freeze(r.sizes);
  }

  async keypair(seed) {
    const s = copyIn(seed, 'seed', { optional: true });
    const r = await this._call('kemKeypair', [this.sizes.publicKey, this.sizes.secretKey, s], s ? [s] : []);
    return { publicKey: buf(r.publicKey), secretKey: buf(r.secretKey) };
  }

  async encapsulate(publicKey) {
    const pk = copyIn(publicKey, 'publicKey');
    const r = await this._call('kemEncapsulate', [pk, this.sizes.ciphertext, this.sizes.sharedSecret], [pk]);
    return { ciphertext: buf(r.ciphertext), sharedSecret: buf(r.sharedSecret) };
  }

  async decapsulate(secretKey, ciphertext) {
    const sk = copyIn(secretKey, 'secretKey');
    const ct = copyIn(ciphertext, 'ciphertext');
    return buf(await this._call('kemDecapsulate', [sk, ct, this.sizes.sharedSecret], [sk, ct]));
  }
}

// ---- Signatures

class Signature extends Handle {
  static async create(algorithm = 'ML-DSA-65') {
    const r = await client.call('sigNew', [text(algorithm, 'algorithm')]);
    return new Signature(r);
  }

  static algorithms() {
    return client.call('sigAlgorithms');
  }

  constructor(r) {
    super(r.handle);
    this.algorithm = r.algorithm;
    this.sizes = Object.freeze(r.sizes);
  }

  async keypair(seed) {
    const s = copyIn(seed, 'seed', { optional: true });
    const r = await this._call('sigKeypair', [this.sizes.publicKey, this.sizes.secretKey, s], s ? [s] : []);
    return { publicKey: buf(r.publicKey), secretKey: buf(r.secretKey) };
  }

  async sign(secretKey, message) {
    const sk = copyIn(secretKey, 'secretKey');
    const m = copyIn(message, 'message', { allowString: true });
    return buf(await this._call('sigSign', [sk, m], [sk, m]));
  }

  /** true if valid, false if the signature does not verify (PQC_ERR_VERIFY);
   * rejects for other errors, e.g. a public key of the wrong length. */
  async verify(publicKey, message, signature) {
    const pk = copyIn(publicKey, 'publicKey');
    const m = copyIn(message, 'message', { allowString: true });
    const s = copyIn(signature, 'signature');
    return this._call('sigVerify', [pk, m, s], [pk, m, s]);
  }
}

// ---- Identity

class Identity extends Handle {
  static async create(path, deviceId, opts = {}) {
    const key = keystoreKey(opts, 'Identity.create');
    const id = await client.call('identityCreate', [
      text(path, 'path'), key, text(deviceId, 'deviceId'),
      text(opts.factoryAlgorithm, 'factoryAlgorithm', true),
      text(opts.signatureAlgorithm, 'signatureAlgorithm', true),
      list(opts.kemAlgorithms, 'kemAlgorithms'),
    ], [key.bytes]);
    return new Identity(id);
  }

  static async open(path, opts) {
    const key = keystoreKey(opts, 'Identity.open');
    return new Identity(await client.call('identityOpen', [text(path, 'path'), key], [key.bytes]));
  }

  deviceId() { return this._call('identityDeviceId'); }
  async factoryPublicKey() { return buf(await this._call('identityFactoryPublicKey')); }
  async joinRequest() { return buf(await this._call('identityJoinRequest')); }
  async renewalRequest() { return buf(await this._call('identityRenewalRequest')); }

  async install(chain, { anchor, overlapSeconds } = {}) {
    const c = copyIn(chain, 'chain');
    const a = copyIn(anchor, 'anchor', { optional: true });
    await this._call('identityInstall', [c, a, seconds(overlapSeconds, 'overlapSeconds', 0)], a ? [c, a] : [c]);
  }

  async chain() { return buf(await this._call('identityChain')); }
  epoch() { return this._call('identityEpoch'); }
  async keyId() { return buf(await this._call('identityKeyId')); }

  /** The certified signature key (no algorithm), or the key of the named
   * KEM or signature scheme, in the scheme's raw format. */
  async publicKey(algorithm) {
    return buf(await this._call('identityPublicKey', [text(algorithm, 'algorithm', true)]));
  }

  async announcement(topic) {
    return buf(await this._call('identityAnnouncement', [text(topic, 'topic')]));
  }

  async applyPolicy(policy) {
    const p = copyIn(policy, 'policy');
    await this._call('identityApplyPolicy', [p], [p]);
  }

  async applyRevocation(list) {
    const l = copyIn(list, 'revocation list');
    await this._call('identityApplyRevocation', [l], [l]);
  }

  /** A signed envelope of message for context (a topic, a path; "" allowed):
   * the content, this device's chain and a signature by its current key.
   * Anyone holding the fleet's anchor verifies it (Trust.verifySigned). */
  async sign(context, message) {
    const m = copyIn(message, 'message', { allowString: true });
    if (m.byteLength > native.SIGNED_MAX_CONTENT) {
      throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `message is ${m.byteLength} bytes, limit ${native.SIGNED_MAX_CONTENT}`);
    }
    return buf(await this._call('identitySign', [text(context, 'context'), m], [m]));
  }

  /** Trust.verifySigned against this identity's own trust state. */
  async verifySigned(envelope, context) {
    const e = copyIn(envelope, 'envelope');
    return signedMessage(await this._call('identityVerifySigned', [e, text(context, 'context')], [e]));
  }

  rotationDue(intervalSeconds) {
    return this._call('identityRotationDue', [seconds(intervalSeconds, 'intervalSeconds')]);
  }

  prune() { return this._call('identityPrune'); }
}

// ---- Trust

class Trust extends Handle {
  static async create(anchor) {
    const a = copyIn(anchor, 'anchor');
    return new Trust(await client.call('trustNew', [a], [a]));
  }

  /** Resolves to the device id the chain certifies; rejects with
   * PQC_ERR_UNTRUSTED, _EXPIRED, _REVOKED, _VERIFY, _POLICY or
   * _INVALID_ARGUMENT. at: a Date or Unix seconds (default now). */
  verifyChain(chain, { at } = {}) {
    let t = 0;
    if (at instanceof Date) t = Math.floor(at.getTime() / 1000);
    else if (at != null) t = Number(at);
    if (!Number.isSafeInteger(t)) return Promise.reject(new RangeError('at must be a Date or integer Unix seconds'));
    if (t === 0 && at != null) {
      // 0 means "now" to the library; a caller who asked for 1970 must not get today.
      return Promise.reject(new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, 'at is the Unix epoch, which the library reads as "now"'));
    }
    const c = copyIn(chain, 'chain');
    return this._call('trustVerifyChain', [c, t], [c]);
  }

  async applyPolicy(policy) {
    const p = copyIn(policy, 'policy');
    await this._call('trustApplyPolicy', [p], [p]);
  }

  async applyRevocation(list) {
    const l = copyIn(list, 'revocation list');
    await this._call('trustApplyRevocation', [l], [l]);
  }

  /** Verifies a signed envelope received on context: resolves to
   * { sender, content, signedAt } with sender the device id the chain
   * certifies; rejects with PQC_ERR_VERIFY (tampered), _UNTRUSTED (another
   * fleet or context), _REVOKED, _EXPIRED, _POLICY or _INVALID_ARGUMENT. */
  async verifySigned(envelope, context) {
    const e = copyIn(envelope, 'envelope');
    return signedMessage(await this._call('trustVerifySigned', [e, text(context, 'context')], [e]));
  }

  /** Resolves if a fresh policy (and the revocation list it demands) is
   * installed; rejects with PQC_ERR_POLICY otherwise. */
  async checkPolicy() {
    await this._call('trustCheckPolicy');
  }
}

// ---- Certificate authority (provisioning tools and tests)

class CertificateAuthority extends Handle {
  static async create(path, name, opts = {}) {
    const key = keystoreKey(opts, 'CertificateAuthority.create');
    const id = await client.call('caCreate', [
      text(path, 'path'), key, text(name, 'name'), text(opts.algorithm, 'algorithm', true),
      seconds(opts.validitySeconds, 'validitySeconds', 10 * 365 * 86400),
    ], [key.bytes]);
    return new CertificateAuthority(id);
  }

  static async open(path, opts) {
    const key = keystoreKey(opts, 'CertificateAuthority.open');
    return new CertificateAuthority(await client.call('caOpen', [text(path, 'path'), key], [key.bytes]));
  }

  async certificate() { return buf(await this._call('caCertificate')); }

  async allow(deviceId, factoryPublicKey, roles) {
    const k = copyIn(factoryPublicKey, 'factoryPublicKey');
    await this._call('caAllow', [text(deviceId, 'deviceId'), k, list(roles, 'roles')], [k]);
  }

  /** allow() with MQTT topic grants in the certificate the device gets:
   * publish and subscribe are topic filters (a string or a list). */
  async allowTopics(deviceId, factoryPublicKey, { publish, subscribe, roles } = {}) {
    const k = copyIn(factoryPublicKey, 'factoryPublicKey');
    await this._call('caAllowTopics', [text(deviceId, 'deviceId'), k, list(roles, 'roles'),
      list(publish, 'publish'), list(subscribe, 'subscribe')], [k]);
  }

  async enroll(request, validitySeconds) {
    const r = copyIn(request, 'request');
    return buf(await this._call('caEnroll', [r, seconds(validitySeconds, 'validitySeconds', 365 * 86400)], [r]));
  }

  async signPolicy(opts = {}) {
    const o = {
      ttlSeconds: seconds(opts.ttlSeconds, 'ttlSeconds', 86400),
      allowedKems: list(opts.allowedKems, 'allowedKems'),
      allowedSigs: list(opts.allowedSigs, 'allowedSigs'),
      rekeyMessages: seconds(opts.rekeyMessages, 'rekeyMessages', 0),
      rekeySeconds: seconds(opts.rekeySeconds, 'rekeySeconds', 0),
      requireSessions: Boolean(opts.requireSessions),
    };
    return buf(await this._call('caSignPolicy', [o]));
  }

  /** Adds key ids (16 bytes each) to the cumulative revocation list and
   * returns the signed list. */
  async revoke(keyIds) {
    const ids = (Array.isArray(keyIds) ? keyIds : [keyIds]).map((k) => Buffer.from(copyIn(k, 'key id')));
    for (const k of ids) {
      if (k.length !== native.KEY_ID_BYTES) {
        throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `key id is ${k.length} bytes, want ${native.KEY_ID_BYTES}`);
      }
    }
    const all = copyIn(Buffer.concat(ids), 'key ids');
    return buf(await this._call('caRevoke', [all], [all]));
  }
}

function signedMessage(r) {
  return { sender: r.sender, content: buf(r.content), signedAt: new Date(r.signedAt * 1000) };
}

// ---- Sealed messages over any transport

class SessionManager extends Handle {
  /** A manager for the identity's current keys (the identity needs an
   * installed chain, a policy and a revocation list). */
  static async create(identity, { resume = false } = {}) {
    if (!(identity instanceof Identity)) throw new TypeError('identity must be a pqc.Identity');
    return new SessionManager(await identity._call('managerNew', [resume ? 1 : 0]));
  }

  /** Verifies a peer's chain and records its keys; resolves to its id. */
  addPeer(chain) {
    const c = copyIn(chain, 'chain');
    return this._call('managerAddPeer', [c], [c]);
  }

  async acceptAnnouncement(announcement, topic) {
    const a = copyIn(announcement, 'announcement');
    await this._call('managerAcceptAnnouncement', [a, text(topic, 'topic')], [a]);
  }

  /** A sealed frame of plaintext for recipient (a known peer), bound to
   * context: signed by this identity and encrypted to the recipient. */
  async seal(recipient, context, plaintext) {
    const p = copyIn(plaintext, 'plaintext', { allowString: true });
    if (p.byteLength > native.SEALED_MAX_PLAINTEXT) {
      throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `plaintext is ${p.byteLength} bytes, limit ${native.SEALED_MAX_PLAINTEXT}`);
    }
    return buf(await this._call('seal', [text(recipient, 'recipient'), text(context, 'context'), p], [p]));
  }

  /** Checks and decrypts a sealed frame received on context; each frame is
   * accepted once (PQC_ERR_REPLAY after). Resolves to { sender, plaintext }. */
  async open(frame, context) {
    const f = copyIn(frame, 'frame');
    const r = await this._call('open', [f, text(context, 'context')], [f]);
    return { sender: r.sender, plaintext: buf(r.plaintext) };
  }
}

// ---- MQTT

const MQTT_MODES = Object.freeze({ auto: 0, sealed: 1, sessions: 2 });
const MQTT_QOS0 = 1;
const MQTT_CLEAN_SESSION = 2;

function milliseconds(v, what, dflt = 0) {
  if (v == null) return dflt;
  if (v === Infinity) return -1;
  if (!Number.isSafeInteger(v) || v < 0 || v > 0x7fffffff) {
    throw new RangeError(`${what} must be an integer number of milliseconds in 0..2^31-1, or Infinity`);
  }
  return v;
}

function mqttOptions(o) {
  if (o.mode != null && !(o.mode in MQTT_MODES)) {
    throw new TypeError(`mode must be one of ${Object.keys(MQTT_MODES).join(', ')}`);
  }
  if (o.qos != null && o.qos !== 0 && o.qos !== 1) throw new RangeError('qos must be 0 or 1');
  return {
    mode: MQTT_MODES[o.mode || 'auto'],
    clientId: text(o.clientId, 'clientId', true),
    username: text(o.username, 'username', true),
    password: text(o.password, 'password', true),
    recipients: list(o.recipients, 'recipients'),
    flags: (o.qos === 0 ? MQTT_QOS0 : 0) | (o.cleanSession ? MQTT_CLEAN_SESSION : 0),
    keepaliveSeconds: seconds(o.keepaliveSeconds, 'keepaliveSeconds', 0),
    connectTimeoutMs: milliseconds(o.connectTimeoutMs, 'connectTimeoutMs'),
    queueSize: milliseconds(o.queueSize, 'queueSize'),
    // TLS to the broker (ssl://, tls://, mqtts://, tcps:// URLs). The
    // library checks the combinations (cert with key, no TLS options on a
    // plain URL) and reads the files, so its refusals and messages are the
    // same from every language.
    tlsCaFile: text(o.tlsCaFile, 'tlsCaFile', true),
    tlsCertFile: text(o.tlsCertFile, 'tlsCertFile', true),
    tlsKeyFile: text(o.tlsKeyFile, 'tlsKeyFile', true),
    tlsServerName: text(o.tlsServerName, 'tlsServerName', true),
  };
}

/**
 * A client of an MQTT broker acting as a provisioned identity: payloads it
 * publishes are protected end to end for the devices entitled to read the
 * topic, and every message it emits names the sender the library
 * authenticated. Messages come as 'message' events ({ topic, sender,
 * payload }) or through `for await (const m of client)`. A thread of its
 * own waits in pqc_mqtt_recv while anyone listens; the event loop never
 * blocks.
 */
class MqttClient extends EventEmitter {
  static async create(identity, brokerUrl, opts = {}) {
    if (!(identity instanceof Identity)) throw new TypeError('identity must be a pqc.Identity');
    const r = await identity._call('mqttNew', [text(brokerUrl, 'brokerUrl'), mqttOptions(opts)]);
    return new MqttClient(r);
  }

  constructor(r) {
    super();
    this._ref = new Handle(r.handle);
    this._address = r.address;
    this._receiver = null;
    this._connected = false;
    this._closing = null;
    this.on('newListener', (event) => {
      if (event === 'message') queueMicrotask(() => this._startReceiver());
    });
  }

  get closed() { return this._ref.closed; }

  /** Connects, subscribes what was subscribed so far and announces the
   * device's keys. The library reconnects by itself afterwards. */
  async connect({ timeoutMs } = {}) {
    await this._ref._call('mqttConnect', [milliseconds(timeoutMs, 'timeoutMs')]);
    this._connected = true;
    this._startReceiver();
  }

  /** Subscribes a filter (+ and # wildcards); before connect it is
   * recorded and subscribed on connect. */
  async subscribe(filter) {
    await this._ref._call('mqttSubscribe', [text(filter, 'filter')]);
  }

  /** Protects and publishes payload; resolves once the broker acknowledged
   * it. Rejects with PQC_ERR_STATE while no reader of the topic has
   * announced keys, PQC_ERR_RATE_LIMITED when the publish queue is full. */
  async publish(topic, payload, { timeoutMs } = {}) {
    const p = copyIn(payload, 'payload', { allowString: true });
    if (p.byteLength > native.MQTT_MAX_PAYLOAD) {
      throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `payload is ${p.byteLength} bytes, limit ${native.MQTT_MAX_PAYLOAD}`);
    }
    await this._ref._call('mqttPublish', [text(topic, 'topic'), p, milliseconds(timeoutMs, 'timeoutMs')], [p]);
  }

  /** Cumulative counters: delivered, published, dropped_unprotect, ... */
  stats() { return this._ref._call('mqttStats'); }

  /** Disconnects, stops receiving and releases the client. */
  close() {
    if (!this._closing) this._closing = this._close();
    return this._closing;
  }

  async _close() {
    const receiver = this._stopReceiver();
    if (!this._ref.closed) {
      // Closing first makes a waiting pqc_mqtt_recv return at once.
      await this._ref._call('mqttClose').catch(() => {});
    }
    await receiver;
    await this._ref.close();
    this.emit('close');
  }

  _startReceiver() {
    if (this._receiver || !this._connected || this._closing || this.listenerCount('message') === 0) return;
    const stop = new SharedArrayBuffer(4);
    const w = new Worker(path.join(__dirname, 'lib', 'receiver.js'), { workerData: { address: this._address, stop } });
    const done = new Promise((resolve) => w.once('exit', resolve));
    this._receiver = { w, stop, done };
    w.on('message', (m) => {
      if (m.error) {
        const err = m.error.status !== undefined ? new PqcError(m.error.status, m.error.detail, 'pqc_mqtt_recv') : new Error(m.error.message);
        if (this.listenerCount('error') > 0) this.emit('error', err);
        return;
      }
      this.emit('message', { topic: m.topic, sender: m.sender, payload: buf(m.payload) });
    });
    w.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  async _stopReceiver() {
    const r = this._receiver;
    if (!r) return;
    Atomics.store(new Int32Array(r.stop), 0, 1);
    await r.done;
  }

  /** Verified messages as an async iterator, until the client closes. */
  [Symbol.asyncIterator]() {
    const queue = [];
    const waiters = [];
    let ended = false;
    const onMessage = (m) => {
      const w = waiters.shift();
      if (w) w({ value: m, done: false });
      else queue.push(m);
    };
    const finish = () => {
      ended = true;
      this.off('message', onMessage);
      this.off('close', finish);
      for (const w of waiters.splice(0)) w({ value: undefined, done: true });
    };
    this.on('message', onMessage);
    this.on('close', finish);
    return {
      next: () => {
        if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => waiters.push(resolve));
      },
      return: () => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() { return this; },
    };
  }
}

/** An in-process MQTT broker (mochi-mqtt) for demos and tests: it lets
 * every client in and keeps nothing on disk. Not a production broker. */
class MqttBroker extends Handle {
  /** addr is host:port; omitted, a free port on 127.0.0.1. */
  static async create(addr) {
    const r = await client.call('brokerNew', [text(addr, 'addr', true)]);
    return new MqttBroker(r);
  }

  constructor(r) {
    super(r.handle);
    this.url = r.url;
  }
}


// ---- CoAP

const COAP_MODES = Object.freeze({ session: 0, signed: 1, oscore: 2, plain: 3 });
const COAP_CERT_GRANTS = 1;

/** CoAP method codes (include/pqc_iiot.h PQC_COAP_GET ...). */
const CoapMethod = Object.freeze({ GET: 1, POST: 2, PUT: 3, DELETE: 4, FETCH: 5, PATCH: 6, IPATCH: 7 });
const METHOD_NAMES = Object.freeze(Object.fromEntries(Object.entries(CoapMethod).map(([k, v]) => [v, k === 'IPATCH' ? 'iPATCH' : k])));

/** CoAP response codes as the byte on the wire, class << 5 | detail. */
const CoapCode = Object.freeze({
  CREATED: 65, DELETED: 66, VALID: 67, CHANGED: 68, CONTENT: 69,
  BAD_REQUEST: 128, UNAUTHORIZED: 129, BAD_OPTION: 130, FORBIDDEN: 131, NOT_FOUND: 132,
  METHOD_NOT_ALLOWED: 133, NOT_ACCEPTABLE: 134, REQUEST_ENTITY_TOO_LARGE: 141,
  UNSUPPORTED_CONTENT_FORMAT: 143,
  INTERNAL_SERVER_ERROR: 160, NOT_IMPLEMENTED: 161, BAD_GATEWAY: 162, SERVICE_UNAVAILABLE: 163,
  GATEWAY_TIMEOUT: 164,
});

/** A CoAP code as RFC 7252 writes it: 69 -> "2.05". */
function coapCodeText(code) {
  return `${code >> 5}.${String(code & 31).padStart(2, '0')}`;
}

function coapMethod(m) {
  if (typeof m === 'number' && METHOD_NAMES[m]) return m;
  if (typeof m === 'string' && CoapMethod[m.toUpperCase()]) return CoapMethod[m.toUpperCase()];
  throw new TypeError(`method must be one of ${Object.keys(CoapMethod).join(', ')}, not ${JSON.stringify(m)}`);
}

function contentFormat(v) {
  if (v == null) return native.COAP_NO_FORMAT;
  if (!Number.isInteger(v) || v < -1 || v > 65535) throw new RangeError('contentFormat must be an integer in 0..65535 (or -1: none)');
  return v;
}

function coapPayload(v) {
  const p = copyIn(v == null ? '' : v, 'payload', { allowString: true });
  if (p.byteLength > native.COAP_MAX_PAYLOAD) {
    throw new PqcError(STATUS.PQC_ERR_INVALID_ARGUMENT, `payload is ${p.byteLength} bytes, limit ${native.COAP_MAX_PAYLOAD}`);
  }
  return p;
}

function coapCode(v) {
  if (!Number.isInteger(v) || v < 64 || v > 191) {
    throw new RangeError(`response code ${v} is not a 2.xx, 4.xx or 5.xx code`);
  }
  return v;
}

function aclText(v) {
  if (v == null) return null;
  return text(Array.isArray(v) ? v.join(';') : v, 'acl');
}

// The options common to servers and clients, as lib/worker.js expects
// them, and the PSK (a copy the worker wipes) to transfer.
function coapOptions(o, timeoutMs) {
  const mode = o.mode == null ? 'session' : o.mode;
  if (!(mode in COAP_MODES)) throw new TypeError(`mode must be one of ${Object.keys(COAP_MODES).join(', ')}`);
  const psk = o.psk || null;
  if (psk && (typeof psk.identity !== 'string' || psk.key == null)) {
    throw new TypeError('psk must be { identity, key }');
  }
  const d = o.dtls || {};
  const opts = {
    mode: COAP_MODES[mode],
    flags: o.certificateGrants ? COAP_CERT_GRANTS : 0,
    timeoutMs: milliseconds(timeoutMs, 'timeoutMs'),
    peer: text(o.peer, 'peer', true),
    acl: aclText(o.acl),
    pskIdentity: psk ? text(psk.identity, 'psk.identity') : null,
    ackTimeoutMs: milliseconds(o.ackTimeoutMs, 'ackTimeoutMs'),
    maxRetransmit: milliseconds(o.maxRetransmit, 'maxRetransmit'),
    certFile: text(d.certFile, 'dtls.certFile', true),
    keyFile: text(d.keyFile, 'dtls.keyFile', true),
    caFile: text(d.caFile, 'dtls.caFile', true),
    serverName: text(d.serverName, 'dtls.serverName', true),
  };
  if (opts.timeoutMs < 0) throw new RangeError('timeoutMs must be finite');
  return { opts, psk: psk ? copyIn(psk.key, 'psk.key', { allowString: true }) : null };
}

function identityArg(identity, mode) {
  if (identity == null) {
    if (mode !== 'plain') throw new TypeError('an identity is needed in every mode but plain');
    return null;
  }
  if (!(identity instanceof Identity)) throw new TypeError('identity must be a pqc.Identity or null');
  return identity;
}

// A thread of lib/coap-thread.js in a polling role; messages go to onMessage.
function pollingThread(role, address, onMessage, onError) {
  const stop = new SharedArrayBuffer(4);
  const w = new Worker(path.join(__dirname, 'lib', 'coap-thread.js'), { workerData: { role, address, stop } });
  const done = new Promise((resolve) => w.once('exit', resolve));
  w.on('message', (m) => {
    if (m.error) {
      onError(m.error.status !== undefined ? new PqcError(m.error.status, m.error.detail, m.error.fn) : new Error(m.error.message));
    } else onMessage(m);
  });
  w.on('error', onError);
  return {
    done,
    stop() {
      Atomics.store(new Int32Array(stop), 0, 1);
      return done;
    },
  };
}

// Emits 'error' only to someone listening: a failed answer or a dead
// thread should not take the whole process down.
function emitError(emitter, err) {
  if (emitter.listenerCount('error') > 0) emitter.emit('error', err);
}

function asyncIterator(emitter, event) {
  const queue = [];
  const waiters = [];
  let ended = false;
  const onItem = (m) => {
    const w = waiters.shift();
    if (w) w({ value: m, done: false });
    else queue.push(m);
  };
  const finish = () => {
    ended = true;
    emitter.off(event, onItem);
    emitter.off('close', finish);
    for (const w of waiters.splice(0)) w({ value: undefined, done: true });
  };
  emitter.on(event, onItem);
  emitter.on('close', finish);
  return {
    next: () => {
      if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiters.push(resolve));
    },
    return: () => {
      finish();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() { return this; },
  };
}

/**
 * A secure CoAP server acting as a provisioned identity (null in plain
 * mode). Handlers see only requests the library authenticated and let
 * through the ACL; everything else is refused (4.01, 4.03, 4.04) before
 * any JavaScript runs. Requests reach handlers through the library's
 * polling queue, read by a thread of the server's own; handlers run on
 * the main thread and their answers go back through the worker.
 */
class CoapServer extends EventEmitter {
  static async create(identity, opts = {}) {
    const mode = opts.mode == null ? 'session' : opts.mode;
    const id = identityArg(identity, mode);
    const { opts: o, psk } = coapOptions(opts, opts.answerTimeoutMs);
    const args = [id ? id._id : null, o, psk];
    const r = id ? await id._call('coapServerNew', args.slice(1), psk ? [psk] : [])
      : await client.call('coapServerNew', args, psk ? [psk] : []);
    return new CoapServer(r, mode);
  }

  constructor(r, mode) {
    super();
    this.mode = mode;
    this._ref = new Handle(r.handle);
    this._address = r.address;
    this._handlers = new Map();
    this._receiver = null;
    this._listening = null;
    this._closing = null;
  }

  get closed() { return this._ref.closed; }
  /** The bound address, "127.0.0.1:40123", once listening. */
  get address() { return this._listening; }

  /** Binds addr ("host:port"; port 0 picks a free one) and serves;
   * resolves to the bound address. */
  async listen(addr = '127.0.0.1:0') {
    this._listening = await this._ref._call('coapServerListen', [text(addr, 'addr')]);
    this._startReceiver();
    return this._listening;
  }

  /** Verifies a client's certificate chain and makes it known. */
  async addPeer(chain) {
    const c = copyIn(chain, 'chain');
    await this._ref._call('coapServerAddPeer', [c], [c]);
  }

  /** Answers requests for path (exact match) with handler(req), which may
   * be async and returns { code, contentFormat, payload }, a Buffer or
   * string (2.05 Content), or nothing (2.05, empty). A handler that throws
   * answers 5.00 and the error is emitted as 'error'. */
  async handle(path, handler) {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    const p = text(path, 'path');
    if (!this._handlers.has(p)) await this._ref._call('coapServerHandle', [p]);
    this._handlers.set(p, handler);
    this._startReceiver();
  }

  /** Sends payload as 2.05 to every observer of path; resolves to how
   * many observers it went to. */
  notify(path, payload, { contentFormat: cf } = {}) {
    const b = coapPayload(payload);
    return this._ref._call('coapServerNotify', [text(path, 'path'), contentFormat(cf), b], [b]);
  }

  close() {
    if (!this._closing) this._closing = this._close();
    return this._closing;
  }

  async _close() {
    const receiver = this._receiver ? this._receiver.stop() : null;
    if (!this._ref.closed) await this._ref._call('coapServerClose').catch(() => {});
    await receiver;
    await this._ref.close();
    this.emit('close');
  }

  _startReceiver() {
    if (this._receiver || !this._listening || this._handlers.size === 0 || this._closing) return;
    this._receiver = pollingThread('server', this._address,
      (m) => { this._dispatch(m.request); },
      (err) => emitError(this, err));
  }

  async _dispatch(raw) {
    const req = {
      id: raw.id, method: METHOD_NAMES[raw.method] || String(raw.method), methodCode: raw.method,
      path: raw.path, query: raw.query, sender: raw.sender,
      contentFormat: raw.contentFormat === native.COAP_NO_FORMAT ? null : raw.contentFormat,
      payload: buf(raw.payload),
    };
    this.emit('request', req);
    let answer;
    try {
      const h = this._handlers.get(req.path);
      answer = h ? normaliseAnswer(await h(req)) : { code: CoapCode.NOT_FOUND, contentFormat: null, payload: '' };
    } catch (err) {
      emitError(this, err);
      answer = { code: CoapCode.INTERNAL_SERVER_ERROR, contentFormat: null, payload: '' };
    }
    try {
      const b = coapPayload(answer.payload);
      await this._ref._call('coapServerRespond', [raw.id, coapCode(answer.code), contentFormat(answer.contentFormat), b], [b]);
    } catch (err) {
      // Too late (the library answered 5.03 itself) or an invalid answer.
      if (!this._closing) emitError(this, err);
    }
  }
}

function normaliseAnswer(a) {
  if (a == null) return { code: CoapCode.CONTENT, contentFormat: null, payload: '' };
  if (typeof a === 'string' || isBytes(a)) return { code: CoapCode.CONTENT, contentFormat: null, payload: a };
  if (typeof a === 'object') {
    return { code: a.code == null ? CoapCode.CONTENT : a.code, contentFormat: a.contentFormat, payload: a.payload };
  }
  throw new TypeError('a handler returns { code, contentFormat, payload }, a Buffer, a string or nothing');
}

function coapResponse(r) {
  return {
    code: r.code, codeText: coapCodeText(r.code),
    contentFormat: r.contentFormat === native.COAP_NO_FORMAT ? null : r.contentFormat,
    payload: buf(r.payload), sender: r.sender,
  };
}

/**
 * A secure CoAP client of one server, acting as a provisioned identity
 * (null in plain mode). Responses come back only if they verified: a
 * tampered one rejects with PQC_ERR_VERIFY, a replayed one PQC_ERR_REPLAY.
 * A CoAP error answer (4.xx, 5.xx) is a response, not a rejection.
 * Exchanges run on a thread of the client's own, one at a time.
 */
class CoapClient {
  static async create(identity, addr, opts = {}) {
    const mode = opts.mode == null ? 'session' : opts.mode;
    const id = identityArg(identity, mode);
    const { opts: o, psk } = coapOptions(opts, opts.timeoutMs);
    const a = text(addr, 'addr');
    const r = id ? await id._call('coapClientNew', [a, o, psk], psk ? [psk] : [])
      : await client.call('coapClientNew', [null, a, o, psk], psk ? [psk] : []);
    return new CoapClient(r, mode);
  }

  constructor(r, mode) {
    this.mode = mode;
    this._ref = new Handle(r.handle);
    this._thread = new Client('coap-thread.js', { role: 'client', address: r.address });
    this._pending = new Set();
    this._observations = new Set();
    this._closing = null;
  }

  get closed() { return this._ref.closed || this._closing !== null; }

  /** Verifies the server's certificate chain and makes it known. */
  async addPeer(chain) {
    const c = copyIn(chain, 'chain');
    await this._ref._call('coapClientAddPeer', [c], [c]);
  }

  _exchange(op, args, transfer = []) {
    if (this.closed) return Promise.reject(new PqcError(STATUS.PQC_ERR_CLOSED, 'CoapClient is closed'));
    const p = this._thread.call(op, args, transfer);
    this._pending.add(p);
    const settled = () => this._pending.delete(p);
    p.then(settled, settled);
    return p;
  }

  /** One confirmable request; resolves to { code, codeText, contentFormat,
   * payload, sender } with sender the authenticated responder ("" for an
   * unprotected refusal, and in plain mode). path may carry a query. */
  async request(method, path, payload, { contentFormat: cf, timeoutMs } = {}) {
    const m = coapMethod(method);
    const p = text(path, 'path');
    const b = coapPayload(payload);
    const t = milliseconds(timeoutMs, 'timeoutMs');
    return coapResponse(await this._exchange('request', [m, p, contentFormat(cf), b, t], [b]));
  }

  get(path, opts) { return this.request('GET', path, null, opts); }
  post(path, payload, opts) { return this.request('POST', path, payload, opts); }
  put(path, payload, opts) { return this.request('PUT', path, payload, opts); }
  delete(path, opts) { return this.request('DELETE', path, null, opts); }

  /** Registers an observation of path; resolves once the server answered
   * (the answer is the first notification, maybe an error code). */
  async observe(path, { timeoutMs } = {}) {
    const address = await this._exchange('observe', [text(path, 'path'), milliseconds(timeoutMs, 'timeoutMs')]);
    const handle = await client.call('coapObservationAdopt', [address]);
    const o = new CoapObservation(handle, address, this);
    this._observations.add(o);
    return o;
  }

  /** Cancels observations, ends the session (keys wiped) and releases the
   * client; an exchange in flight rejects with PQC_ERR_CLOSED. */
  close() {
    if (!this._closing) this._closing = this._close();
    return this._closing;
  }

  async _close() {
    await Promise.all([...this._observations].map((o) => o.cancel()));
    if (!this._ref.closed) await this._ref._call('coapClientClose').catch(() => {});
    await Promise.allSettled([...this._pending]);
    await this._thread.stop();
    await this._ref.close();
  }
}

/**
 * Notifications of an observed resource, verified like responses:
 * 'notification' events ({ code, codeText, contentFormat, payload,
 * sender }) or `for await (const n of observation)`, until cancel().
 */
class CoapObservation extends EventEmitter {
  constructor(handle, address, owner) {
    super();
    this._ref = new Handle(handle);
    this._address = address;
    this._owner = owner;
    this._closing = null;
    this._thread = pollingThread('observe', address,
      (m) => this.emit('notification', coapResponse(m.notification)),
      (err) => emitError(this, err));
  }

  /** Deregisters at the server and ends the observation. */
  cancel() {
    if (!this._closing) this._closing = this._cancel();
    return this._closing;
  }

  close() { return this.cancel(); }

  async _cancel() {
    const stopped = this._thread.stop();
    if (!this._ref.closed && !this._owner._ref.closed) {
      await this._owner._thread.call('cancel', [this._address]).catch(() => {});
    }
    await stopped;
    await this._ref.close();
    this._owner._observations.delete(this);
    this.emit('close');
  }

  [Symbol.asyncIterator]() { return asyncIterator(this, 'notification'); }
}

// ---- module functions

/** The library's version string, e.g. "0.1.0". */
async function version() {
  return (await client.call('info')).version;
}

/** Where the library was loaded from and its versions. */
function libraryInfo() {
  return client.call('info');
}

async function randomBytes(n) {
  if (!Number.isSafeInteger(n) || n < 0 || n > 1 << 30) throw new RangeError('n must be an integer in 0..2^30');
  return buf(await client.call('randomBytes', [n]));
}

/** Stops the worker thread. Objects still open become closed. Not needed
 * for a process to exit: an idle worker does not keep it alive. */
function shutdown() {
  return client.stop();
}

// For callers' own secrets (keys from keypair(), shared secrets): the
// package wipes only the copies it makes.
function wipe(b) {
  if (isBytes(b)) new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength).fill(0);
}

module.exports = {
  ABI_VERSION: native.ABI_VERSION,
  LIBRARY_ENV: native.LIBRARY_ENV,
  STATUS,
  STATUS_CODES,
  PqcError,
  Kem,
  Signature,
  Identity,
  Trust,
  CertificateAuthority,
  SessionManager,
  MqttClient,
  MqttBroker,
  CoapServer,
  CoapClient,
  CoapObservation,
  CoapMethod,
  CoapCode,
  coapCodeText,
  COAP_MAX_PAYLOAD: native.COAP_MAX_PAYLOAD,
  MQTT_MAX_PAYLOAD: native.MQTT_MAX_PAYLOAD,
  SEALED_MAX_PLAINTEXT: native.SEALED_MAX_PLAINTEXT,
  SIGNED_MAX_CONTENT: native.SIGNED_MAX_CONTENT,
  version,
  libraryInfo,
  randomBytes,
  shutdown,
  wipe,
};
