'use strict';
// The main-thread side of lib/worker.js: one worker per process, requests
// over postMessage, answered in order. The worker is unref'd while nothing
// is pending, so an idle library never keeps a process alive.

const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { PqcError } = require('./errors');

class Client {
  // file and workerData name another thread speaking the same protocol
  // (lib/coap-thread.js, one per CoAP client); the default is the shared
  // worker.
  constructor(file = 'worker.js', workerData = undefined) {
    this.file = file;
    this.workerData = workerData;
    this.worker = null;
    this.pending = new Map();
    this.nextId = 1;
    // Handles belong to one worker's lifetime. If the worker dies and a new
    // one starts, its handle numbers restart too; the generation stops an
    // old object from reaching a new object that got the same number.
    this.generation = 0;
  }

  start() {
    const w = new Worker(path.join(__dirname, this.file), { workerData: this.workerData });
    this.generation++;
    w.on('message', (reply) => this.onReply(reply));
    w.on('error', (err) => this.onExit(w, err));
    w.on('exit', (code) => this.onExit(w, new Error(`pqc worker exited with code ${code}`)));
    w.unref();
    this.worker = w;
  }

  onReply({ id, ok, value, error }) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0 && this.worker) this.worker.unref();
    if (ok) p.resolve(value);
    else if (error.status !== undefined) p.reject(new PqcError(error.status, error.detail, error.fn));
    else {
      const E = error.name === 'TypeError' ? TypeError : error.name === 'RangeError' ? RangeError : Error;
      p.reject(new E(error.message));
    }
  }

  onExit(w, err) {
    if (this.worker !== w) return;
    this.worker = null;
    const pending = this.pending;
    this.pending = new Map();
    for (const p of pending.values()) p.reject(err);
  }

  // Runs op(...args) in the worker. transfer lists ArrayBuffers that move
  // to the worker (copies made for this call, some holding secrets that the
  // worker wipes after use).
  call(op, args = [], transfer = []) {
    if (!this.worker) this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ id, op, args }, transfer);
      } catch (err) {
        this.pending.delete(id);
        reject(err);
      }
    });
  }

  // Stops the worker; the next call starts a new one. Open objects become
  // closed (PQC_ERR_CLOSED) and the library's handles die with the process.
  async stop() {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    const pending = this.pending;
    this.pending = new Map();
    for (const p of pending.values()) p.reject(new Error('pqc worker stopped'));
    // An unref'd worker does not hold the event loop open, not even for its
    // own termination; without this, awaiting stop() can end the process.
    w.ref();
    await w.terminate();
  }
}

module.exports = { Client, client: new Client() };
