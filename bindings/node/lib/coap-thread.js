'use strict';
// The blocking side of CoAP, one thread per object, in one of three roles
// (workerData.role):
//
//   client   runs a CoapClient's exchanges (pqc_coap_client_request,
//            pqc_coap_client_observe, pqc_coap_observe_cancel) on request from the main thread,
//            with the protocol of lib/worker.js, one at a time;
//   server   waits in pqc_coap_server_recv and posts each queued request
//            (authenticated and ACL-checked by the library) to the main
//            thread, which answers it through the shared worker;
//   observe  waits in pqc_coap_observe_recv and posts each verified
//            notification.
//
// Why not the shared worker (lib/worker.js): an exchange blocks for up to
// its timeout, and a server in the same process answers through that
// worker; a request waiting there would starve the answer it waits for.
// No FFI callback is ever called from a Go thread: every call here is an
// ordinary synchronous call made by this thread, and pqc_last_error() is
// read right after the failing call, on the same thread.
//
// The loops stop when the stop flag in shared memory is set (checked
// between waits of at most WAIT_MS) or when the library answers
// PQC_ERR_CLOSED because the object was closed.

const { parentPort, workerData } = require('node:worker_threads');
const native = require('./native');

const PQC_ERR_BUFFER_TOO_SMALL = -2;
const PQC_ERR_CLOSED = -5;
const PQC_ERR_TIMEOUT = -9;
const WAIT_MS = 200;

const { fn } = native.loadCoapThread();

function str(b) {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}

function copyOut(buf, n) {
  const ab = new ArrayBuffer(n);
  new Uint8Array(ab).set(buf.subarray(0, n));
  return ab;
}

function failure(st, name) {
  return { status: st, detail: fn.pqc_last_error(), fn: name };
}

// ---- client: request/reply, as lib/worker.js

function clientRole(address) {
  // Large enough for any response (PQC_COAP_MAX_PAYLOAD), so a request is
  // never sent twice for want of room.
  const out = Buffer.alloc(native.COAP_MAX_PAYLOAD);
  const sender = Buffer.alloc(native.DEVICE_ID_MAX_BYTES);
  const code = [0];
  const format = [0];
  const n = [0];
  const ops = {
    request(method, path, contentFormat, payloadAb, timeoutMs) {
      const p = payloadAb ? Buffer.from(payloadAb) : null;
      sender.fill(0);
      const st = fn.pqc_coap_client_request(address, method, path, contentFormat, p, p ? p.length : 0,
        timeoutMs, code, format, out, out.length, n, sender, sender.length);
      if (st !== 0) return { error: failure(st, 'pqc_coap_client_request') };
      const len = Number(n[0]);
      const payload = copyOut(out, len);
      return { value: { code: code[0], contentFormat: format[0], payload, sender: str(sender) }, transfer: [payload] };
    },
    observe(path, timeoutMs) {
      const o = [0];
      const st = fn.pqc_coap_client_observe(address, path, timeoutMs, o);
      if (st !== 0) return { error: failure(st, 'pqc_coap_client_observe') };
      return { value: Number(o[0]) };
    },
    // Here, not on the shared worker: deregistering is an exchange with
    // the server, which may be answered by this very process.
    cancel(observation) {
      const st = fn.pqc_coap_observe_cancel(observation);
      if (st !== 0 && st !== PQC_ERR_CLOSED) return { error: failure(st, 'pqc_coap_observe_cancel') };
      return { value: null };
    },
  };
  parentPort.on('message', ({ id, op, args }) => {
    let r;
    try {
      const impl = ops[op];
      r = impl ? impl(...args) : { fail: new Error(`unknown operation ${op}`) };
    } catch (err) {
      r = { fail: err };
    }
    if (r.error) parentPort.postMessage({ id, ok: false, error: r.error });
    else if (r.fail) parentPort.postMessage({ id, ok: false, error: { name: r.fail.name, message: String(r.fail.message) } });
    else parentPort.postMessage({ id, ok: true, value: r.value }, r.transfer || []);
  });
}

// ---- server and observe: polling loops

function serverRole(address, stopFlag) {
  const path = Buffer.alloc(native.COAP_URI_MAX_BYTES);
  const query = Buffer.alloc(native.COAP_URI_MAX_BYTES);
  const sender = Buffer.alloc(native.DEVICE_ID_MAX_BYTES);
  let payload = Buffer.alloc(4096);
  const rid = [0];
  const method = [0];
  const format = [0];
  const n = [0];
  while (Atomics.load(stopFlag, 0) === 0) {
    const st = fn.pqc_coap_server_recv(address, WAIT_MS, rid, method, path, path.length, query, query.length,
      sender, sender.length, format, payload, payload.length, n);
    if (st === PQC_ERR_TIMEOUT) continue;
    if (st === PQC_ERR_BUFFER_TOO_SMALL) {
      // The request stays queued; take it next round with room for it.
      payload = Buffer.alloc(Math.max(Number(n[0]), payload.length * 2));
      continue;
    }
    if (st === PQC_ERR_CLOSED) break;
    if (st !== 0) {
      parentPort.postMessage({ error: failure(st, 'pqc_coap_server_recv') });
      break;
    }
    const body = copyOut(payload, Number(n[0]));
    parentPort.postMessage({
      request: {
        id: BigInt(rid[0]), method: method[0], path: str(path), query: str(query), sender: str(sender),
        contentFormat: format[0], payload: body,
      },
    }, [body]);
  }
}

function observeRole(address, stopFlag) {
  const sender = Buffer.alloc(native.DEVICE_ID_MAX_BYTES);
  let out = Buffer.alloc(4096);
  const code = [0];
  const format = [0];
  const n = [0];
  while (Atomics.load(stopFlag, 0) === 0) {
    sender.fill(0);
    const st = fn.pqc_coap_observe_recv(address, WAIT_MS, code, format, out, out.length, n, sender, sender.length);
    if (st === PQC_ERR_TIMEOUT) continue;
    if (st === PQC_ERR_BUFFER_TOO_SMALL) {
      out = Buffer.alloc(Math.max(Number(n[0]), out.length * 2));
      continue;
    }
    if (st === PQC_ERR_CLOSED) break;
    if (st !== 0) {
      parentPort.postMessage({ error: failure(st, 'pqc_coap_observe_recv') });
      break;
    }
    const payload = copyOut(out, Number(n[0]));
    parentPort.postMessage({
      notification: { code: code[0], contentFormat: format[0], payload, sender: str(sender) },
    }, [payload]);
  }
}

const { role, address, stop } = workerData;
try {
  if (role === 'client') clientRole(address);
  else if (role === 'server') serverRole(address, new Int32Array(stop));
  else if (role === 'observe') observeRole(address, new Int32Array(stop));
  else throw new Error(`unknown role ${role}`);
} catch (err) {
  parentPort.postMessage({ error: { message: String(err && err.message ? err.message : err) } });
}
