'use strict';
// Per-call cost of the three ways Node.js can call libpqc_iiot through
// koffi: synchronously on the main thread, with koffi's .async() (libuv
// pool), and through the package's worker (what pqc.js uses). Prints one
// table; `npm run bench`. BENCH_SCALE=0.2 for a quicker run.

const os = require('node:os');
const { performance } = require('node:perf_hooks');
const native = require('../lib/native');
const pqc = require('../pqc');
const { client } = require('../lib/client');

const scale = Number(process.env.BENCH_SCALE || 1);
const n = (x) => Math.max(10, Math.round(x * scale));

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);

// The median of several rounds: the machine is shared, and one round that
// a neighbour's burst landed on should not decide the table.
// Each round returns [wall µs/call, main-thread busy µs/call]; the second
// comes from the event loop's utilisation, i.e. the time the loop could not
// serve anything else (timers, sockets, other flows).
async function median(round) {
  const r = [];
  for (let i = 0; i < ROUNDS; i++) r.push(await round());
  r.sort((a, b) => a[0] - b[0]);
  return r[r.length >> 1];
}

function elu() {
  return performance.eventLoopUtilization();
}

function busy(before, count) {
  return (performance.eventLoopUtilization(before).active * 1000) / count;
}

async function time(count, body) {
  // Warm up (JIT, Go's per-thread setup on first entry) before timing.
  for (let i = 0; i < Math.min(50, count); i++) await body(i);
  return median(async () => {
    const e0 = elu();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) await body(i);
    return [((performance.now() - t0) * 1000) / count, busy(e0, count)];
  });
}

// count calls with `depth` of them in flight at once: throughput, not latency.
async function timeConcurrent(count, depth, body) {
  await Promise.all(Array.from({ length: depth }, (_, i) => body(i)));
  return median(async () => {
    const e0 = elu();
    const t0 = performance.now();
    let next = 0;
    async function lane() {
      while (next < count) await body(next++);
    }
    await Promise.all(Array.from({ length: depth }, lane));
    return [((performance.now() - t0) * 1000) / count, busy(e0, count)];
  });
}

async function timeConcurrentOnce(count, depth, body) {
  let next = 0;
  async function lane() {
    while (next < count) await body(next++);
  }
  await Promise.all(Array.from({ length: depth }, lane));
}

function promisify(f) {
  return (...args) => new Promise((resolve, reject) => {
    f.async(...args, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

async function main() {
  // Event loop utilisation reads 0 until the loop has run once.
  await new Promise((resolve) => setImmediate(resolve));
  const rows = [];
  const row = (way, call, [us, mainUs], note = '') => rows.push({
    way, call, 'µs/call': us.toFixed(1), 'main thread µs/call': mainUs === undefined ? '' : mainUs.toFixed(1), note,
  });

  // The library's own objects for the direct koffi measurements.
  const { fn } = native.load();
  const out = [null];
  fn.pqc_kem_new('ML-KEM-768', out);
  const kemPtr = out[0];
  fn.pqc_sig_new('ML-DSA-65', out);
  const sigPtr = out[0];
  const pk = Buffer.alloc(1184);
  const sk = Buffer.alloc(2400);
  const ct = Buffer.alloc(1088);
  const ss = Buffer.alloc(32);
  fn.pqc_kem_keypair(kemPtr, pk, pk.length, sk, sk.length);
  const spk = Buffer.alloc(1952);
  const ssk = Buffer.alloc(4032);
  fn.pqc_sig_keypair(sigPtr, spk, spk.length, ssk, ssk.length);
  const msg = Buffer.from('temperature=21.5;unit=C;sensor=boiler-3');
  const sig = Buffer.alloc(3309);
  const sigLen = [0];

  // 1. synchronous koffi on the main thread: blocks the event loop for the
  // whole call, and pays the Go runtime's stack-bounds re-read each time.
  row('sync koffi, main thread', 'pqc_abi_version (plain C, no Go)', await time(n(20000), () => fn.pqc_abi_version()));
  row('sync koffi, main thread', 'pqc_kem_public_key_size (trivial Go)', await time(n(5000), () => fn.pqc_kem_public_key_size(kemPtr)));
  row('sync koffi, main thread', 'ML-KEM-768 encapsulate', await time(n(2000), () => fn.pqc_kem_encapsulate(kemPtr, pk, 1184, ct, 1088, ss, 32)));
  row('sync koffi, main thread', 'ML-DSA-65 sign', await time(n(300), () => fn.pqc_sig_sign(sigPtr, ssk, ssk.length, msg, msg.length, sig, sig.length, sigLen)));

  // 2. koffi .async(): one libuv pool hop per call.
  const sizeA = promisify(fn.pqc_kem_public_key_size);
  const encA = promisify(fn.pqc_kem_encapsulate);
  const signA = promisify(fn.pqc_sig_sign);
  row('koffi .async()', 'pqc_kem_public_key_size (trivial Go)', await time(n(5000), () => sizeA(kemPtr)), 'one at a time');
  row('koffi .async()', 'ML-KEM-768 encapsulate', await time(n(2000), () => encA(kemPtr, pk, 1184, ct, 1088, ss, 32)), 'one at a time');
  row('koffi .async()', 'ML-DSA-65 sign', await time(n(300), () => signA(sigPtr, ssk, ssk.length, msg, msg.length, Buffer.alloc(3309), 3309, [0])), 'one at a time');
  row('koffi .async()', 'pqc_kem_public_key_size (trivial Go)', await timeConcurrent(n(20000), 64, () => sizeA(kemPtr)), '64 in flight');
  row('koffi .async()', 'ML-KEM-768 encapsulate', await timeConcurrent(n(4000), 64, () => encA(kemPtr, pk, 1184, Buffer.alloc(1088), 1088, Buffer.alloc(32), 32)), '64 in flight');

  // 3. the package's worker (pqc.js), including argument copies and
  // postMessage both ways.
  const kem = await pqc.Kem.create('ML-KEM-768');
  const s = await pqc.Signature.create('ML-DSA-65');
  const kp = await kem.keypair();
  const skp = await s.keypair();
  const id = kem._id;
  row('worker (pqc.js)', 'pqc_kem_public_key_size (trivial Go)', await time(n(5000), () => client.call('kemPublicKeySize', [id])), 'one at a time');
  row('worker (pqc.js)', 'ML-KEM-768 encapsulate', await time(n(2000), () => kem.encapsulate(kp.publicKey)), 'one at a time');
  row('worker (pqc.js)', 'ML-DSA-65 sign', await time(n(300), () => s.sign(skp.secretKey, msg)), 'one at a time');
  row('worker (pqc.js)', 'pqc_kem_public_key_size (trivial Go)', await timeConcurrent(n(20000), 64, () => client.call('kemPublicKeySize', [id])), '64 in flight');
  row('worker (pqc.js)', 'ML-KEM-768 encapsulate', await timeConcurrent(n(4000), 64, () => kem.encapsulate(kp.publicKey)), '64 in flight');

  // 4. for reference: the same synchronous koffi calls made on a non-main
  // thread (this is what the worker does inside).
  const inWorker = await new Promise((resolve, reject) => {
    const { Worker } = require('node:worker_threads');
    const w = new Worker(`
      const { parentPort } = require('node:worker_threads');
      const os = require('node:os');
const { performance } = require('node:perf_hooks');
      const { fn } = require(${JSON.stringify(require.resolve('../lib/native'))}).load();
      const out = [null]; fn.pqc_kem_new('ML-KEM-768', out); const k = out[0];
      const pk = Buffer.alloc(1184), sk = Buffer.alloc(2400), ct = Buffer.alloc(1088), ss = Buffer.alloc(32);
      fn.pqc_kem_keypair(k, pk, 1184, sk, 2400);
      const t = (count, f) => {
        for (let i = 0; i < 50; i++) f();
        const r = [];
        for (let k = 0; k < ${ROUNDS}; k++) {
          const t0 = performance.now();
          for (let i = 0; i < count; i++) f();
          r.push((performance.now() - t0) * 1000 / count);
        }
        return r.sort((a, b) => a - b)[r.length >> 1];
      };
      parentPort.postMessage({
        trivial: t(${n(20000)}, () => fn.pqc_kem_public_key_size(k)),
        encaps: t(${n(2000)}, () => fn.pqc_kem_encapsulate(k, pk, 1184, ct, 1088, ss, 32)),
      });
    `, { eval: true });
    w.once('message', (m) => { w.terminate(); resolve(m); });
    w.once('error', reject);
  });
  row('sync koffi, worker thread', 'pqc_kem_public_key_size (trivial Go)', [inWorker.trivial], 'inside the worker, no messaging');
  row('sync koffi, worker thread', 'ML-KEM-768 encapsulate', [inWorker.encaps], 'inside the worker, no messaging');

  // 5. The identity-level calls the Node-RED nodes make, through the worker:
  // signed envelopes, sealed messages, and an MQTT message from publish to
  // the subscriber's 'message' event (embedded broker, one at a time).
  await identityRows(row);

  // 6. Is the error detail the right one? pqc_last_error() is per thread.
  // With .async() the failing call and the pqc_last_error() call that
  // follows it each take whichever pool thread is free.
  const newA = promisify(fn.pqc_kem_new);
  const lastA = promisify(fn.pqc_last_error);
  const trials = n(400);
  let asyncWrong = 0;
  // 32 lanes: koffi refuses more than a fixed number of async calls in
  // flight ("Too many asynchronous calls are running"), unlike a queue.
  await timeConcurrentOnce(trials, 32, async (i) => {
    await newA(`bad-${i}`, [null]);
    const detail = await lastA();
    if (!detail.includes(`"bad-${i}"`)) asyncWrong++;
  });
  let workerWrong = 0;
  await Promise.all(Array.from({ length: trials }, async (_, i) => {
    try {
      await pqc.Kem.create(`bad-${i}`);
    } catch (err) {
      if (!err.detail.includes(`"bad-${i}"`)) workerWrong++;
    }
  }));
  const sep = '='.repeat(20);

  console.log(`libpqc_iiot ${fn.pqc_version()} from ${native.locate().path}; node ${process.version}; ` +
    `${os.cpus().length} cpus; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ` +
    `median of ${ROUNDS} rounds; scale ${scale}`);
  console.table(rows);
  console.log(`${sep} error detail (pqc_last_error) after ${trials} concurrent failing calls`);
  console.table([
    { way: 'koffi .async() + .async() pqc_last_error', 'wrong or missing detail': asyncWrong },
    { way: 'worker (pqc.js), read in the worker', 'wrong or missing detail': workerWrong },
  ]);
  await kem.close();
  await s.close();
  await pqc.shutdown();
}

async function identityRows(row) {
  const fs = require('node:fs');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-bench-'));
  try {
    const ca = await pqc.CertificateAuthority.create(path.join(dir, 'ca.store'), 'root', { rawKey: await pqc.randomBytes(32) });
    const policy = await ca.signPolicy({ ttlSeconds: 3600 });
    const ids = {};
    for (const [name, grants] of [['sensor-1', { publish: 'plant/#' }], ['scada-1', { subscribe: 'plant/#' }]]) {
      const id = await pqc.Identity.create(path.join(dir, `${name}.store`), name, { rawKey: await pqc.randomBytes(32) });
      await ca.allowTopics(name, await id.factoryPublicKey(), grants);
      await id.install(await ca.enroll(await id.joinRequest()), { anchor: await ca.certificate() });
      await id.applyPolicy(policy);
      ids[name] = id;
    }
    const trust = await pqc.Trust.create(await ca.certificate());
    await trust.applyPolicy(policy);
    const reading = Buffer.from('{"sensor":"boiler-3","temperature":71.5}');
    const env = await ids['sensor-1'].sign('plant/a', reading);
    row('worker (pqc.js)', 'Identity.sign (signed envelope)', await time(n(300), () => ids['sensor-1'].sign('plant/a', reading)), 'one at a time');
    row('worker (pqc.js)', 'Trust.verifySigned (chain + signature)', await time(n(300), () => trust.verifySigned(env, 'plant/a')), 'one at a time');

    const m1 = await pqc.SessionManager.create(ids['sensor-1']);
    const m2 = await pqc.SessionManager.create(ids['scada-1']);
    await m1.addPeer(await ids['scada-1'].chain());
    await m2.addPeer(await ids['sensor-1'].chain());
    row('worker (pqc.js)', 'SessionManager.seal', await time(n(300), () => m1.seal('scada-1', 'c', reading)), 'one at a time');
    // Opening is charged to the sender's budget before any crypto (policy:
    // 20/s, burst 40), so one timed batch inside the burst, no rounds.
    const frames = [];
    for (let i = 0; i < 30; i++) frames.push(await m1.seal('scada-1', 'c', reading));
    await new Promise((r) => setTimeout(r, 2100)); // let the budget refill
    const e0 = elu();
    const t0 = performance.now();
    for (const f of frames) await m2.open(f, 'c');
    row('worker (pqc.js)', 'SessionManager.open', [((performance.now() - t0) * 1000) / frames.length, busy(e0, frames.length)],
      '30 calls, one at a time (peer budget)');

    // Every frame a receiver takes is charged to the sender's budget before
    // any crypto (policy default 20/s, burst 40), so messages are paced
    // below that and each one timed alone: latency, not throughput.
    for (const mode of ['sealed', 'auto']) {
      const broker = await pqc.MqttBroker.create();
      const pub = await pqc.MqttClient.create(ids['sensor-1'], broker.url, { mode });
      const sub = await pqc.MqttClient.create(ids['scada-1'], broker.url, { mode });
      await sub.subscribe('plant/#');
      let arrived = null;
      sub.on('message', () => { if (arrived) arrived(); });
      await sub.connect();
      await pub.connect();
      await new Promise((r) => setTimeout(r, 2100)); // budget full after the previous rows
      const samples = [];
      const busyAll = [];
      for (let i = 0; i < 30; i++) {
        const got = new Promise((resolve) => { arrived = resolve; });
        const e0 = elu();
        const t0 = performance.now();
        for (;;) {
          try {
            await pub.publish('plant/a', reading);
            break;
          } catch (err) {
            if (err.code !== 'PQC_ERR_STATE') throw err;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        await got;
        if (i >= 5) { // the first ones include waiting for announcements and the handshake
          samples.push((performance.now() - t0) * 1000);
          busyAll.push(busy(e0, 1));
        }
        await new Promise((r) => setTimeout(r, 70));
      }
      const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
      row('worker + receiver thread', `MQTT publish -> 'message' event (${mode})`, [med(samples), med(busyAll)],
        'embedded broker, QoS 1, 25 paced messages');
      await pub.close();
      await sub.close();
      await broker.close();
    }
    // A CoAP exchange from the client's thread to a server of the same
    // process: request out, queued at the server, read by its receiver
    // thread, answered by the main-thread handler through the worker,
    // response verified. Requests can be charged to per-peer budgets (a
    // signature check per message in signed mode), so one batch of 30 after
    // a refill, as for open above.
    const chainOf = { server: await ids['sensor-1'].chain(), client: await ids['scada-1'].chain() };
    for (const mode of ['session', 'oscore', 'signed']) {
      const srv = await pqc.CoapServer.create(ids['sensor-1'], { mode });
      await srv.addPeer(chainOf.client);
      await srv.handle('/t', (req) => ({ code: 68, payload: req.payload }));
      const cl = await pqc.CoapClient.create(ids['scada-1'], await srv.listen(), { mode, peer: 'sensor-1' });
      await cl.addPeer(chainOf.server);
      const hs0 = performance.now();
      await cl.post('/t', reading); // the handshake, in session and OSCORE modes
      const first = (performance.now() - hs0) * 1000;
      await new Promise((r) => setTimeout(r, 2100));
      const e0 = elu();
      const t0 = performance.now();
      for (let i = 0; i < 30; i++) {
        const r = await cl.post('/t', reading);
        if (r.code !== 68) throw new Error(`CoAP ${mode}: ${r.codeText}`);
      }
      row('client thread + receiver thread + worker', `CoAP POST round trip (${mode})`,
        [((performance.now() - t0) * 1000) / 30, busy(e0, 30)], `30 calls, one at a time; first request ${Math.round(first)} µs`);
      await cl.close();
      await srv.close();
    }

    await m1.close();
    await m2.close();
    await trust.close();
    for (const id of Object.values(ids)) await id.close();
    await ca.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
