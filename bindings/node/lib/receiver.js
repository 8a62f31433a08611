'use strict';
// One thread per MQTT client that has listeners: it waits in
// pqc_mqtt_recv (the polling form of the C API; no FFI callback ever runs
// on a Go thread) and posts each verified message to the main thread.
//
// It runs apart from lib/worker.js because recv blocks: on the shared
// worker it would hold up every other call. It stops when the stop flag in
// shared memory is set (checked between waits of at most WAIT_MS), or when
// the library answers PQC_ERR_CLOSED because the client was closed.

const { parentPort, workerData } = require('node:worker_threads');
const native = require('./native');

const PQC_ERR_BUFFER_TOO_SMALL = -2;
const PQC_ERR_CLOSED = -5;
const PQC_ERR_TIMEOUT = -9;
// Bounds how long a stop request waits for the current recv to return.
const WAIT_MS = 200;

const { address, stop } = workerData;
const stopFlag = new Int32Array(stop);

function run() {
  const { fn } = native.loadReceiver();
  const topic = Buffer.alloc(native.MQTT_TOPIC_MAX_BYTES);
  const sender = Buffer.alloc(native.DEVICE_ID_MAX_BYTES);
  let payload = Buffer.alloc(4096);
  const n = [0];
  const str = (b) => {
    const z = b.indexOf(0);
    return b.toString('utf8', 0, z < 0 ? b.length : z);
  };
  while (Atomics.load(stopFlag, 0) === 0) {
    const st = fn.pqc_mqtt_recv(address, WAIT_MS, topic, topic.length, sender, sender.length, payload, payload.length, n);
    if (st === PQC_ERR_TIMEOUT) continue;
    if (st === PQC_ERR_BUFFER_TOO_SMALL) {
      // The message stays queued; take it next round with room for it.
      payload = Buffer.alloc(Math.max(Number(n[0]), payload.length * 2));
      continue;
    }
    if (st === PQC_ERR_CLOSED) break;
    if (st !== 0) {
      parentPort.postMessage({ error: { status: st, detail: fn.pqc_last_error() } });
      break;
    }
    const len = Number(n[0]);
    const ab = new ArrayBuffer(len);
    new Uint8Array(ab).set(payload.subarray(0, len));
    parentPort.postMessage({ topic: str(topic), sender: str(sender), payload: ab }, [ab]);
  }
}

try {
  run();
} catch (err) {
  parentPort.postMessage({ error: { message: String(err && err.message ? err.message : err) } });
}
