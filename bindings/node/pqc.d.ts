// Types for node-red-contrib-pqc-iiot/pqc: the plain Node.js API of
// pqc-iiot. Every call runs on a worker thread and returns a Promise.

/// <reference types="node" />

import { EventEmitter } from 'node:events';

/** Byte input: copied for the call, never kept or modified. */
export type Bytes = Uint8Array | ArrayBuffer | ArrayBufferView;
/** A message to sign or verify: bytes, or a string taken as UTF-8. */
export type Message = Bytes | string;

/** Opens a keystore: a passphrase (stretched with Argon2id) or a raw 32-byte key. */
export type KeystoreKey = { passphrase: string | Bytes; rawKey?: undefined } | { rawKey: Bytes; passphrase?: undefined };

/** The ABI version of include/pqc_iiot.h this package was written for. */
export const ABI_VERSION: 1;
/** Name of the environment variable that names the library file. */
export const LIBRARY_ENV: 'PQC_IIOT_LIBRARY';

export type StatusCode =
  | 'PQC_OK'
  | 'PQC_ERR_INVALID_ARGUMENT'
  | 'PQC_ERR_BUFFER_TOO_SMALL'
  | 'PQC_ERR_UNSUPPORTED'
  | 'PQC_ERR_VERIFY'
  | 'PQC_ERR_CLOSED'
  | 'PQC_ERR_INTERNAL'
  | 'PQC_ERR_REPLAY'
  | 'PQC_ERR_POLICY'
  | 'PQC_ERR_TIMEOUT'
  | 'PQC_ERR_IO'
  | 'PQC_ERR_RATE_LIMITED'
  | 'PQC_ERR_STATE'
  | 'PQC_ERR_REVOKED'
  | 'PQC_ERR_EXPIRED'
  | 'PQC_ERR_UNTRUSTED'
  | 'PQC_ERR_ROLLBACK'
  | 'PQC_ERR_WRONG_KEY'
  | 'PQC_ERR_CORRUPT';

/** Status values of the C header, by name. */
export const STATUS: Readonly<Record<StatusCode, number>>;
/** Status names, by value. */
export const STATUS_CODES: Readonly<Record<number, StatusCode>>;

/** A failed library call. */
export class PqcError extends Error {
  readonly name: 'PqcError';
  /** The header's negative status value, e.g. -4. */
  readonly status: number;
  /** The status macro's name, e.g. 'PQC_ERR_VERIFY'. */
  readonly code: StatusCode | 'PQC_ERR_UNKNOWN';
  /** pqc_last_error() of the failing call ('' if none); never key material. */
  readonly detail: string;
  /** The C function that failed, when known. */
  readonly function?: string;
}

interface Closable {
  /** Frees the library object; later calls reject with PQC_ERR_CLOSED. Objects not
   * closed are freed when garbage-collected. */
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface KeyPair {
  publicKey: Buffer;
  /** Yours to keep safe; wipe it (fill(0) or wipe()) when done. */
  secretKey: Buffer;
}

export interface KemSizes {
  publicKey: number;
  secretKey: number;
  ciphertext: number;
  sharedSecret: number;
  seed: number;
}

export class Kem implements Closable {
  /** Names are matched case-insensitively; default ML-KEM-768. */
  static create(algorithm?: string): Promise<Kem>;
  /** The KEM algorithms this build of the library has. */
  static algorithms(): Promise<string[]>;
  private constructor();
  /** The canonical algorithm name. */
  readonly algorithm: string;
  readonly sizes: Readonly<KemSizes>;
  /** A fresh key pair, or one derived from seed (sizes.seed bytes). */
  keypair(seed?: Bytes): Promise<KeyPair>;
  encapsulate(publicKey: Bytes): Promise<{ ciphertext: Buffer; sharedSecret: Buffer }>;
  /** A tampered ciphertext is not an error: it yields an unrelated secret. */
  decapsulate(secretKey: Bytes, ciphertext: Bytes): Promise<Buffer>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface SignatureSizes {
  publicKey: number;
  secretKey: number;
  /** Upper bound; Falcon signatures vary in length. */
  signatureMax: number;
  seed: number;
}

export class Signature implements Closable {
  /** Names are matched case-insensitively; default ML-DSA-65. */
  static create(algorithm?: string): Promise<Signature>;
  static algorithms(): Promise<string[]>;
  private constructor();
  readonly algorithm: string;
  readonly sizes: Readonly<SignatureSizes>;
  keypair(seed?: Bytes): Promise<KeyPair>;
  sign(secretKey: Bytes, message: Message): Promise<Buffer>;
  /** true if valid, false if not (PQC_ERR_VERIFY); rejects for other errors,
   * e.g. a public key of the wrong length. */
  verify(publicKey: Bytes, message: Message, signature: Bytes): Promise<boolean>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface IdentityCreateOptions {
  passphrase?: string | Bytes;
  rawKey?: Bytes;
  /** Default ML-DSA-65. */
  factoryAlgorithm?: string;
  /** Default ML-DSA-65. */
  signatureAlgorithm?: string;
  /** Default X25519-ML-KEM-768. */
  kemAlgorithms?: string | string[];
}

/** A device identity in an encrypted keystore; its secret keys never leave the library. */
export class Identity implements Closable {
  /** Creates a keystore at path (which must not exist) with a new factory key. */
  static create(path: string, deviceId: string, options: IdentityCreateOptions): Promise<Identity>;
  /** Rejects with PQC_ERR_WRONG_KEY, PQC_ERR_CORRUPT or PQC_ERR_IO (missing or locked). */
  static open(path: string, key: KeystoreKey): Promise<Identity>;
  private constructor();
  deviceId(): Promise<string>;
  /** The factory public key, encoded, for the CA's allow-list. */
  factoryPublicKey(): Promise<Buffer>;
  joinRequest(): Promise<Buffer>;
  renewalRequest(): Promise<Buffer>;
  /** Installs a chain the CA issued; anchor is required on the first install. */
  install(chain: Bytes, options?: { anchor?: Bytes; overlapSeconds?: number }): Promise<void>;
  /** The current certificate chain, leaf first, encoded. */
  chain(): Promise<Buffer>;
  epoch(): Promise<number>;
  /** The current key id (16 bytes), as revocation lists name it. */
  keyId(): Promise<Buffer>;
  /** The certified signature key (no algorithm) or the named scheme's key, raw. */
  publicKey(algorithm?: string): Promise<Buffer>;
  /** A signed announcement of the current keys, bound to topic. */
  announcement(topic: string): Promise<Buffer>;
  /** Rejects with PQC_ERR_ROLLBACK for an older policy. */
  applyPolicy(policy: Bytes): Promise<void>;
  applyRevocation(list: Bytes): Promise<void>;
  /** A signed envelope of message (at most SIGNED_MAX_CONTENT bytes) for context:
   * the content, this device's chain and a signature by its current key. */
  sign(context: string, message: Message): Promise<Buffer>;
  /** Trust.verifySigned against this identity's own trust state. */
  verifySigned(envelope: Bytes, context: string): Promise<SignedMessage>;
  rotationDue(intervalSeconds: number): Promise<boolean>;
  /** Destroys the previous epoch's keys once their overlap is over; true if it did. */
  prune(): Promise<boolean>;
  close(): Promise<void>;
  readonly closed: boolean;
}

/** Verification state without an identity of one's own. */
export class Trust implements Closable {
  static create(anchor: Bytes): Promise<Trust>;
  private constructor();
  /** Resolves to the certified device id; rejects with PQC_ERR_UNTRUSTED, _EXPIRED,
   * _REVOKED, _VERIFY, _POLICY or _INVALID_ARGUMENT. */
  verifyChain(chain: Bytes, options?: { at?: Date | number }): Promise<string>;
  applyPolicy(policy: Bytes): Promise<void>;
  applyRevocation(list: Bytes): Promise<void>;
  /** Resolves if a fresh policy (and the revocation list it demands) is installed;
   * rejects with PQC_ERR_POLICY otherwise. */
  checkPolicy(): Promise<void>;
  /** Verifies a signed envelope received on context; rejects with PQC_ERR_VERIFY
   * (tampered), _UNTRUSTED (another fleet or context), _REVOKED, _EXPIRED, _POLICY
   * or _INVALID_ARGUMENT. */
  verifySigned(envelope: Bytes, context: string): Promise<SignedMessage>;
  close(): Promise<void>;
  readonly closed: boolean;
}

/** A verified signed envelope. */
export interface SignedMessage {
  /** The device id the envelope's chain certifies. */
  sender: string;
  content: Buffer;
  /** The signer's clock (not in the verifier's future). */
  signedAt: Date;
}

/** Largest content of a signed envelope (PQC_SIGNED_MAX_CONTENT). */
export const SIGNED_MAX_CONTENT: 65536;
/** Largest plaintext of a sealed message (PQC_SEALED_MAX_PLAINTEXT). */
export const SEALED_MAX_PLAINTEXT: 49152;
/** Largest MQTT application payload (PQC_MQTT_MAX_PAYLOAD). */
export const MQTT_MAX_PAYLOAD: 49152;

/** Sealed messages over any transport, for an identity's current keys. */
export class SessionManager implements Closable {
  /** The identity needs an installed chain and a policy. */
  static create(identity: Identity, options?: { resume?: boolean }): Promise<SessionManager>;
  private constructor();
  /** Verifies a peer's chain and records its keys; resolves to its device id. */
  addPeer(chain: Bytes): Promise<string>;
  acceptAnnouncement(announcement: Bytes, topic: string): Promise<void>;
  /** Signed by this identity, encrypted to recipient's certified key, bound to context. */
  seal(recipient: string, context: string, plaintext: Message): Promise<Buffer>;
  /** Each frame opens once (then PQC_ERR_REPLAY); PQC_ERR_VERIFY when altered or
   * opened on another context. */
  open(frame: Bytes, context: string): Promise<{ sender: string; plaintext: Buffer }>;
  close(): Promise<void>;
  readonly closed: boolean;
}

/** A verified MQTT message: sender is the device id the library authenticated. */
export interface MqttMessage {
  topic: string;
  sender: string;
  payload: Buffer;
}

export interface MqttOptions {
  /** 'auto' (default): sessions where established, else sealed. */
  mode?: 'auto' | 'sealed' | 'sessions';
  /** Default 1. */
  qos?: 0 | 1;
  /** Default: the device id. */
  clientId?: string;
  username?: string;
  password?: string;
  /** Device ids every frame is for, instead of the certificates' grants. */
  recipients?: string | string[];
  cleanSession?: boolean;
  /** Default 30. */
  keepaliveSeconds?: number;
  /** Default 10000; also subscribe's timeout. */
  connectTimeoutMs?: number;
  /** Publishes awaiting acknowledgement; default 1000. */
  queueSize?: number;
  /** TLS to the broker: only with an ssl://, tls://, mqtts:// or tcps:// URL. Any tls
   * option with tcp:// or mqtt:// is refused (PQC_ERR_INVALID_ARGUMENT), since the
   * connection would not be encrypted. Paths are read when the client is created.
   * PEM CA certificates that verify the broker's certificate; default: the system's roots.
   * A file without any PEM certificate is refused (PQC_ERR_INVALID_ARGUMENT). */
  tlsCaFile?: string;
  /** PEM client certificate (chain), for brokers that require one; with tlsKeyFile. */
  tlsCertFile?: string;
  /** PEM private key of tlsCertFile (unencrypted); with tlsCertFile. */
  tlsKeyFile?: string;
  /** The name the broker's certificate must carry; default: the URL's host. */
  tlsServerName?: string;
}

/** MQTT with end-to-end protection, as an identity. Messages arrive as 'message'
 * events or through `for await (const m of client)`, from a thread of its own
 * waiting in pqc_mqtt_recv while anyone listens. */
export class MqttClient extends EventEmitter implements AsyncIterable<MqttMessage> {
  /** The identity must stay open while the client is used. Nothing is sent before connect. */
  static create(identity: Identity, brokerUrl: string, options?: MqttOptions): Promise<MqttClient>;
  private constructor();
  /** Rejects with PQC_ERR_IO (broker unreachable), PQC_ERR_TIMEOUT, PQC_ERR_STATE (twice). */
  connect(options?: { timeoutMs?: number }): Promise<void>;
  subscribe(filter: string): Promise<void>;
  /** Resolves once the broker acknowledged; PQC_ERR_STATE while no reader of the topic
   * has announced keys, PQC_ERR_RATE_LIMITED when the queue is full. */
  publish(topic: string, payload: Message, options?: { timeoutMs?: number }): Promise<void>;
  stats(): Promise<MqttStats>;
  /** Disconnects, stops receiving (iterators end) and releases the client. */
  close(): Promise<void>;
  readonly closed: boolean;
  [Symbol.asyncIterator](): AsyncIterator<MqttMessage>;
  on(event: 'message', listener: (message: MqttMessage) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: () => void): this;
  once(event: 'message', listener: (message: MqttMessage) => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  once(event: 'close', listener: () => void): this;
}

export interface MqttStats {
  delivered: number;
  published: number;
  publish_failed: number;
  queue_full: number;
  dropped_oversize: number;
  dropped_bad_topic: number;
  dropped_rate_limited: number;
  /** Forged, tampered, replayed or re-routed frames. */
  dropped_unprotect: number;
  dropped_not_for_me: number;
  dropped_control: number;
  accepted_announcements: number;
  accepted_handshakes: number;
  reconnects: number;
  connection_lost: number;
}

/** An in-process broker (mochi-mqtt) for demos and tests; not for production. */
export class MqttBroker implements Closable {
  /** addr host:port; omitted, a free port on 127.0.0.1. */
  static create(addr?: string): Promise<MqttBroker>;
  private constructor();
  /** e.g. "tcp://127.0.0.1:40123". */
  readonly url: string;
  close(): Promise<void>;
  readonly closed: boolean;
}

// ---- CoAP

/** session: a pqc-iiot handshake, then ratchet-sealed messages; signed: a COSE_Sign1
 * per message (no secrecy); oscore: RFC 8613 OSCORE keyed by a pqc-iiot handshake;
 * plain: no protection, for use under DTLS (the identity may then be null). */
export type CoapMode = 'session' | 'signed' | 'oscore' | 'plain';
export type CoapMethodName = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'IPATCH';

export const CoapMethod: Readonly<{ GET: 1; POST: 2; PUT: 3; DELETE: 4; FETCH: 5; PATCH: 6; IPATCH: 7 }>;
/** Response codes as the byte on the wire, class << 5 | detail (2.05 is 69). */
export const CoapCode: Readonly<{
  CREATED: 65; DELETED: 66; VALID: 67; CHANGED: 68; CONTENT: 69;
  BAD_REQUEST: 128; UNAUTHORIZED: 129; BAD_OPTION: 130; FORBIDDEN: 131; NOT_FOUND: 132;
  METHOD_NOT_ALLOWED: 133; NOT_ACCEPTABLE: 134; REQUEST_ENTITY_TOO_LARGE: 141;
  UNSUPPORTED_CONTENT_FORMAT: 143;
  INTERNAL_SERVER_ERROR: 160; NOT_IMPLEMENTED: 161; BAD_GATEWAY: 162; SERVICE_UNAVAILABLE: 163;
  GATEWAY_TIMEOUT: 164;
}>;
/** 69 -> "2.05". */
export function coapCodeText(code: number): string;
/** Largest request or response payload, 65536 bytes. */
export const COAP_MAX_PAYLOAD: number;

export interface CoapCommonOptions {
  /** Default 'session'. */
  mode?: CoapMode;
  /** DTLS 1.2 with one pre-shared key: a client offers it, a server accepts exactly it. */
  psk?: { identity: string; key: Bytes | string };
  /** DTLS with X.509 certificates (PEM files), instead of a PSK. */
  dtls?: { certFile?: string; keyFile?: string; caFile?: string; serverName?: string };
  /** CoAP ACK_TIMEOUT (default 2000) and MAX_RETRANSMIT (default 1). */
  ackTimeoutMs?: number;
  maxRetransmit?: number;
}

export interface CoapServerOptions extends CoapCommonOptions {
  /** Rules "subject methods path" (a string separated by ';' or newlines, or a list):
   * subject a device id, PSK identity, "*" or "role:NAME"; methods "GET,PUT" or "*";
   * path a prefix on '/' boundaries ("/#" for all). Omitted: every authenticated sender
   * may do anything. */
  acl?: string | string[];
  /** Also honour CoAP path grants in senders' certificates. */
  certificateGrants?: boolean;
  /** How long a request waits for its handler before the library answers 5.03 (default 1500). */
  answerTimeoutMs?: number;
}

export interface CoapClientOptions extends CoapCommonOptions {
  /** The server's device id (session and OSCORE: required; signed: the required signer). */
  peer?: string;
  /** One exchange including a handshake; also caps per-request timeouts (default 30000). */
  timeoutMs?: number;
}

/** An authenticated request that passed the ACL. */
export interface CoapRequest {
  /** The polling queue's id for it. */
  id: bigint;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH' | string;
  methodCode: number;
  path: string;
  /** "unit=C&avg=1", "" without one. */
  query: string;
  /** The device id the library verified (plain mode: the DTLS identity, or ""). */
  sender: string;
  contentFormat: number | null;
  payload: Buffer;
}

export interface CoapAnswer {
  /** Default 2.05 Content. */
  code?: number;
  contentFormat?: number | null;
  payload?: Message;
}

/** A handler's result: an answer, bytes or text for 2.05, or nothing (2.05, empty). */
export type CoapHandler = (request: CoapRequest) =>
  CoapAnswer | Message | void | Promise<CoapAnswer | Message | void>;

/** A verified response (or notification). A CoAP error code is a response too. */
export interface CoapResponse {
  code: number;
  /** "2.05". */
  codeText: string;
  contentFormat: number | null;
  payload: Buffer;
  /** The authenticated responder; "" for an unprotected refusal and in plain mode. */
  sender: string;
}

/** A secure CoAP server acting as an identity (null in plain mode). Handlers see only
 * authenticated requests the ACL allows; they are read from the library's polling queue
 * by a thread of the server's own and run on the main thread. */
export class CoapServer extends EventEmitter implements Closable {
  static create(identity: Identity | null, options?: CoapServerOptions): Promise<CoapServer>;
  private constructor();
  readonly mode: CoapMode;
  /** Binds (default "127.0.0.1:0", a free port) and resolves to the bound address. */
  listen(addr?: string): Promise<string>;
  /** The bound address once listening, else null. */
  readonly address: string | null;
  /** Verifies a client's certificate chain and makes it known. */
  addPeer(chain: Bytes): Promise<void>;
  /** Answers requests for path (exact match); a throwing handler answers 5.00 and is
   * reported as 'error'. */
  handle(path: string, handler: CoapHandler): Promise<void>;
  /** Sends a 2.05 notification to every observer of path; resolves to their number. */
  notify(path: string, payload: Message, options?: { contentFormat?: number }): Promise<number>;
  close(): Promise<void>;
  readonly closed: boolean;
  on(event: 'request', listener: (request: CoapRequest) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: () => void): this;
}

/** A secure CoAP client of one server. Exchanges run on a thread of its own. */
export class CoapClient implements Closable {
  static create(identity: Identity | null, addr: string, options?: CoapClientOptions): Promise<CoapClient>;
  private constructor();
  readonly mode: CoapMode;
  /** Verifies the server's certificate chain and makes it known. */
  addPeer(chain: Bytes): Promise<void>;
  /** Resolves to the verified response; rejects with PQC_ERR_VERIFY (a response that did
   * not verify), PQC_ERR_REPLAY, PQC_ERR_TIMEOUT, PQC_ERR_IO. */
  request(method: CoapMethodName | number, path: string, payload?: Message | null,
    options?: { contentFormat?: number | null; timeoutMs?: number }): Promise<CoapResponse>;
  get(path: string, options?: { timeoutMs?: number }): Promise<CoapResponse>;
  post(path: string, payload: Message, options?: { contentFormat?: number | null; timeoutMs?: number }): Promise<CoapResponse>;
  put(path: string, payload: Message, options?: { contentFormat?: number | null; timeoutMs?: number }): Promise<CoapResponse>;
  delete(path: string, options?: { timeoutMs?: number }): Promise<CoapResponse>;
  /** Registers an observation; its first notification is the server's answer. */
  observe(path: string, options?: { timeoutMs?: number }): Promise<CoapObservation>;
  close(): Promise<void>;
  readonly closed: boolean;
}

/** Verified notifications as events or an async iterator, until cancel(). */
export class CoapObservation extends EventEmitter implements AsyncIterable<CoapResponse> {
  private constructor();
  cancel(): Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterator<CoapResponse>;
  on(event: 'notification', listener: (notification: CoapResponse) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: () => void): this;
}

export interface PolicyOptions {
  /** Default one day. */
  ttlSeconds?: number;
  allowedKems?: string | string[];
  allowedSigs?: string | string[];
  rekeyMessages?: number;
  rekeySeconds?: number;
  requireSessions?: boolean;
}

/** A root CA in its own keystore, for provisioning tools and tests. */
export class CertificateAuthority implements Closable {
  static create(path: string, name: string, options: KeystoreKey & { algorithm?: string; validitySeconds?: number }): Promise<CertificateAuthority>;
  static open(path: string, key: KeystoreKey): Promise<CertificateAuthority>;
  private constructor();
  /** The trust anchor devices and peers need. */
  certificate(): Promise<Buffer>;
  allow(deviceId: string, factoryPublicKey: Bytes, roles?: string | string[]): Promise<void>;
  /** allow() with MQTT topic grants in the certificate the device gets. */
  allowTopics(deviceId: string, factoryPublicKey: Bytes,
    grants?: { publish?: string | string[]; subscribe?: string | string[]; roles?: string | string[] }): Promise<void>;
  /** Issues a chain for a join or renewal request; default validity one year. */
  enroll(request: Bytes, validitySeconds?: number): Promise<Buffer>;
  signPolicy(options?: PolicyOptions): Promise<Buffer>;
  /** Adds key ids (16 bytes each) and returns the signed cumulative list. */
  revoke(keyIds: Bytes | Bytes[]): Promise<Buffer>;
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface LibraryInfo {
  version: string;
  abi: number;
  /** The file loaded. */
  path: string;
  /** How it was found: 'PQC_IIOT_LIBRARY', 'bundled' or 'repository build'. */
  source: 'PQC_IIOT_LIBRARY' | 'bundled' | 'repository build';
}

/** The library's version, e.g. "0.1.0". */
export function version(): Promise<string>;
export function libraryInfo(): Promise<LibraryInfo>;
/** n bytes from the operating system's CSPRNG. */
export function randomBytes(n: number): Promise<Buffer>;
/** Stops the worker thread; open objects become closed. Not needed before exit. */
export function shutdown(): Promise<void>;
/** Overwrites a buffer with zeros. */
export function wipe(buffer: Bytes): void;
