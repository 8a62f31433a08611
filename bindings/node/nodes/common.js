'use strict';
// Helpers shared by the Node-RED nodes of this package.

const path = require('node:path');

// Relative paths in a node's settings are relative to the Node-RED user
// directory (~/.node-red), where flows and credentials live too, not to
// whatever directory Node-RED happened to be started from.
function resolvePath(RED, p) {
  if (!p) return p;
  const base = (RED.settings && RED.settings.userDir) || process.cwd();
  return path.resolve(base, p);
}

// The bytes a message property stands for. Buffers and strings (UTF-8) are
// taken as they are; anything else is serialised as JSON, and the caller
// gets the string back so it can put exactly the signed bytes on the wire.
function messageBytes(value) {
  if (Buffer.isBuffer(value)) return { bytes: Buffer.from(value), value: Buffer.from(value) };
  if (value instanceof Uint8Array) return { bytes: Buffer.from(value), value: Buffer.from(value) };
  if (typeof value === 'string') return { bytes: Buffer.from(value, 'utf8'), value };
  if (value === undefined) throw new Error('no data to sign or verify (property is undefined)');
  const json = JSON.stringify(value);
  return { bytes: Buffer.from(json, 'utf8'), value: json };
}

// Signatures travel as Buffers inside a flow, but as base64 text through
// JSON-only hops (HTTP, some MQTT setups); accept both.
function signatureBytes(value) {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string' && /^[A-Za-z0-9+/=_-]+$/.test(value)) return Buffer.from(value, 'base64');
  if (value && value.type === 'Buffer' && Array.isArray(value.data)) return Buffer.from(value.data);
  return null;
}

// A received payload as the in nodes hand it on: 'buffer' as is, 'utf8'
// as text, 'json' parsed (an error if it is not JSON), 'auto' parsed when
// it is JSON, else text when it is valid UTF-8, else the Buffer.
function payloadOut(b, datatype) {
  if (datatype === 'buffer') return b;
  if (datatype === 'utf8') return b.toString('utf8');
  const textual = isUtf8(b);
  if (datatype === 'json') {
    if (!textual) throw new Error('payload is not UTF-8 text, so not JSON');
    return JSON.parse(b.toString('utf8'));
  }
  if (!textual) return b;
  const s = b.toString('utf8');
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function isUtf8(b) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

function short(err) {
  const m = err && (err.code && err.detail !== undefined ? `${err.code}: ${err.detail}` : err.message);
  const s = String(m || err);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

module.exports = { resolvePath, messageBytes, signatureBytes, payloadOut, short };
