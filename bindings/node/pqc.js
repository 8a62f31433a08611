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
const { client } = require('./lib/client');
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
  MQTT_MAX_PAYLOAD: native.MQTT_MAX_PAYLOAD,
  SEALED_MAX_PLAINTEXT: native.SEALED_MAX_PLAINTEXT,
  SIGNED_MAX_CONTENT: native.SIGNED_MAX_CONTENT,
  version,
  libraryInfo,
  randomBytes,
  shutdown,
  wipe,
};
