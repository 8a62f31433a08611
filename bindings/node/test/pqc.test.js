'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { performance } = require('node:perf_hooks');

const pqc = require('../pqc');
const { PqcError } = pqc;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-test-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof PqcError, `expected PqcError, got ${err}`);
    assert.equal(err.code, code);
    assert.equal(err.status, pqc.STATUS[code]);
    assert.equal(typeof err.detail, 'string');
    return true;
  });
}

test('version and library', async () => {
  assert.match(await pqc.version(), /^\d+\.\d+\.\d+/);
  const info = await pqc.libraryInfo();
  assert.equal(info.abi, pqc.ABI_VERSION);
  assert.ok(fs.existsSync(info.path));
});

test('KEM round trip for every algorithm', async () => {
  const algs = await pqc.Kem.algorithms();
  assert.ok(algs.includes('ML-KEM-768') && algs.includes('X25519-ML-KEM-768'));
  for (const alg of algs) {
    const kem = await pqc.Kem.create(alg.toLowerCase());
    assert.equal(kem.algorithm, alg);
    const { publicKey, secretKey } = await kem.keypair();
    assert.ok(Buffer.isBuffer(publicKey));
    assert.equal(publicKey.length, kem.sizes.publicKey);
    assert.equal(secretKey.length, kem.sizes.secretKey);
    const { ciphertext, sharedSecret } = await kem.encapsulate(publicKey);
    assert.equal(ciphertext.length, kem.sizes.ciphertext);
    assert.deepEqual(await kem.decapsulate(secretKey, ciphertext), sharedSecret);
    await kem.close();
  }
});

test('KEM: seeded keys are deterministic, tampered ciphertext gives another secret', async () => {
  const kem = await pqc.Kem.create('ML-KEM-768');
  const seed = Buffer.alloc(kem.sizes.seed, 7);
  const a = await kem.keypair(seed);
  const b = await kem.keypair(new Uint8Array(seed));
  assert.deepEqual(a.publicKey, b.publicKey);
  assert.equal(seed[0], 7, 'the caller\'s seed is not wiped: only our copy is');
  const { ciphertext, sharedSecret } = await kem.encapsulate(a.publicKey);
  ciphertext[5] ^= 1;
  assert.notDeepEqual(await kem.decapsulate(a.secretKey, ciphertext), sharedSecret);
  await rejectsWith(kem.encapsulate(a.publicKey.subarray(1)), 'PQC_ERR_INVALID_ARGUMENT');
  await kem.close();
  await rejectsWith(kem.encapsulate(a.publicKey), 'PQC_ERR_CLOSED');
});

test('signature round trip for every algorithm; tamper -> invalid', async () => {
  const algs = await pqc.Signature.algorithms();
  assert.ok(algs.includes('ML-DSA-65') && algs.includes('Falcon-512'));
  for (const alg of algs) {
    const sig = await pqc.Signature.create(alg);
    const { publicKey, secretKey } = await sig.keypair();
    const msg = Buffer.from(`reading from ${alg}`);
    const s = await sig.sign(secretKey, msg);
    assert.ok(s.length > 0 && s.length <= sig.sizes.signatureMax);
    assert.equal(await sig.verify(publicKey, msg, s), true);
    const bad = Buffer.from(msg);
    bad[0] ^= 1;
    assert.equal(await sig.verify(publicKey, bad, s), false, `${alg}: tampered message`);
    const badSig = Buffer.from(s);
    badSig[badSig.length >> 1] ^= 1;
    assert.equal(await sig.verify(publicKey, msg, badSig), false, `${alg}: tampered signature`);
    await sig.close();
  }
});

test('strings are signed as UTF-8 and inputs are not consumed', async () => {
  const sig = await pqc.Signature.create('ML-DSA-65');
  const { publicKey, secretKey } = await sig.keypair();
  const s = await sig.sign(secretKey, 'héllo');
  assert.equal(await sig.verify(publicKey, Buffer.from('héllo', 'utf8'), s), true);
  // The caller's key buffer is still usable (copied, not transferred).
  assert.equal(secretKey.length, sig.sizes.secretKey);
  assert.equal(await sig.verify(publicKey.buffer.slice(publicKey.byteOffset, publicKey.byteOffset + publicKey.length), 'héllo', s), true);
  await sig.close();
});

test('errors carry status, code and the detail of the failing call', async () => {
  await assert.rejects(pqc.Signature.create('RSA-2048'), (err) => {
    assert.ok(err instanceof PqcError);
    assert.equal(err.status, -3);
    assert.equal(err.code, 'PQC_ERR_UNSUPPORTED');
    assert.match(err.detail, /RSA-2048/);
    assert.match(err.message, /^PQC_ERR_UNSUPPORTED: /);
    return true;
  });
  const sig = await pqc.Signature.create('ML-DSA-65');
  const { secretKey } = await sig.keypair();
  // Interleave two different failures with successes: each error must carry
  // its own detail, not the other one's (pqc_last_error is per thread).
  const results = await Promise.allSettled([
    sig.verify(Buffer.alloc(10), 'm', Buffer.alloc(3309)),
    sig.sign(secretKey, 'ok'),
    sig.sign(secretKey.subarray(0, 100), 'm'),
    pqc.Kem.create('nope'),
  ]);
  assert.match(results[0].reason.detail, /public key is 10 bytes/);
  assert.equal(results[1].status, 'fulfilled');
  assert.match(results[2].reason.detail, /secret key is 100 bytes/);
  assert.match(results[3].reason.detail, /"nope"/);
  await assert.rejects(sig.sign(42, 'm'), TypeError);
  await sig.close();
});

test('100 concurrent calls resolve to their own results', async () => {
  const sig = await pqc.Signature.create('ML-DSA-44');
  const kem = await pqc.Kem.create('ML-KEM-768');
  const { publicKey, secretKey } = await sig.keypair();
  const kp = await kem.keypair();
  const jobs = [];
  for (let i = 0; i < 100; i++) {
    if (i % 2) {
      jobs.push(sig.sign(secretKey, `message ${i}`).then((s) => sig.verify(publicKey, `message ${i}`, s)));
    } else {
      jobs.push(kem.encapsulate(kp.publicKey).then(async ({ ciphertext, sharedSecret }) =>
        (await kem.decapsulate(kp.secretKey, ciphertext)).equals(sharedSecret)));
    }
  }
  const out = await Promise.all(jobs);
  assert.equal(out.length, 100);
  assert.ok(out.every((x) => x === true));
  // Every signature binds its own message: swap two and both fail.
  const [s1, s2] = await Promise.all([sig.sign(secretKey, 'a'), sig.sign(secretKey, 'b')]);
  assert.equal(await sig.verify(publicKey, 'a', s2), false);
  assert.equal(await sig.verify(publicKey, 'b', s1), false);
  await sig.close();
  await kem.close();
});

test('the event loop keeps ticking during 200 ML-DSA-65 signs', async () => {
  const sig = await pqc.Signature.create('ML-DSA-65');
  const { publicKey, secretKey } = await sig.keypair();
  await sig.sign(secretKey, 'warm-up');
  let ticks = 0;
  let worstGap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worstGap = Math.max(worstGap, now - last);
    last = now;
    ticks++;
  }, 2);
  // All 200 at once: made synchronously on this thread they would block it
  // for the whole batch (about 75 ms here, more on a slow gateway) before a
  // single tick could run.
  const t0 = performance.now();
  const signatures = await Promise.all(Array.from({ length: 200 }, (_, i) => sig.sign(secretKey, `reading ${i}`)));
  const elapsed = performance.now() - t0;
  clearInterval(timer);
  assert.equal(signatures.length, 200);
  assert.equal(await sig.verify(publicKey, 'reading 199', signatures[199]), true);
  // Made on this thread, the batch would run to completion before any
  // timer could fire: no tick at all. The count is not compared with the
  // elapsed time, which a loaded machine stretches at will (the worst gap
  // is reported for information; bench/bench.js measures costs).
  assert.ok(ticks >= 3, `${ticks} ticks during the batch (${elapsed.toFixed(0)} ms, worst gap ${worstGap.toFixed(1)} ms)`);
  await sig.close();
});

test('identity, CA and trust: enrol, verify chain, policy, revocation', async () => {
  const caKey = await pqc.randomBytes(32);
  const ca = await pqc.CertificateAuthority.create(path.join(tmp, 'ca.store'), 'plant-root', { rawKey: caKey });
  const dev = await pqc.Identity.create(path.join(tmp, 'dev.store'), 'sensor-1', { passphrase: 'correct horse' });
  await ca.allow('sensor-1', await dev.factoryPublicKey());
  const anchor = await ca.certificate();
  await dev.install(await ca.enroll(await dev.joinRequest()), { anchor });
  assert.equal(await dev.deviceId(), 'sensor-1');
  assert.equal(await dev.epoch(), 0);
  assert.equal((await dev.keyId()).length, 16);
  assert.equal((await dev.publicKey()).length, 1952);
  assert.equal((await dev.publicKey('X25519-ML-KEM-768')).length, 1216);
  assert.ok((await dev.announcement('plant/line-1/boiler')).length > 0);

  const trust = await pqc.Trust.create(anchor);
  const chain = await dev.chain();
  assert.equal(await trust.verifyChain(chain), 'sensor-1');
  const tampered = Buffer.from(chain);
  tampered[tampered.length - 10] ^= 1;
  await assert.rejects(trust.verifyChain(tampered), PqcError);
  await rejectsWith(trust.verifyChain(chain, { at: new Date('2001-01-01') }), 'PQC_ERR_EXPIRED');

  await rejectsWith(trust.checkPolicy(), 'PQC_ERR_POLICY');
  const policy = await ca.signPolicy({ ttlSeconds: 3600 });
  await trust.applyPolicy(policy);
  await dev.applyPolicy(policy);
  await trust.checkPolicy();
  await rejectsWith(trust.applyPolicy(Buffer.from('not a policy')), 'PQC_ERR_INVALID_ARGUMENT');
  const newer = await ca.signPolicy({ ttlSeconds: 3600 });
  await trust.applyPolicy(newer);
  await rejectsWith(trust.applyPolicy(policy), 'PQC_ERR_ROLLBACK');

  const revocation = await ca.revoke([await dev.keyId()]);
  await trust.applyRevocation(revocation);
  await dev.applyRevocation(revocation);
  await rejectsWith(trust.verifyChain(chain), 'PQC_ERR_REVOKED');

  await dev.close();
  await rejectsWith(dev.chain(), 'PQC_ERR_CLOSED');
  await rejectsWith(pqc.Identity.open(path.join(tmp, 'dev.store'), { passphrase: 'wrong' }), 'PQC_ERR_WRONG_KEY');
  const again = await pqc.Identity.open(path.join(tmp, 'dev.store'), { passphrase: Buffer.from('correct horse') });
  assert.equal(await again.deviceId(), 'sensor-1');
  await again.close();
  await assert.rejects(pqc.Identity.open(path.join(tmp, 'dev.store'), {}), TypeError);
  await rejectsWith(pqc.Identity.open(path.join(tmp, 'dev.store'), { rawKey: Buffer.alloc(31) }), 'PQC_ERR_INVALID_ARGUMENT');
  await trust.close();
  await ca.close();
});

function runNode(code, env) {
  return spawnSync(process.execPath, ['-e', code], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30000,
  });
}

test('library lookup: PQC_IIOT_LIBRARY wins and a wrong one is an error', () => {
  const pkg = JSON.stringify(path.resolve(__dirname, '..', 'pqc.js'));
  const info = JSON.parse(JSON.stringify(require('../lib/native').locate()));
  const ok = runNode(`require(${pkg}).libraryInfo().then((i) => console.log(JSON.stringify(i)))`,
    { PQC_IIOT_LIBRARY: info.path });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).source, 'PQC_IIOT_LIBRARY');
  const bad = runNode(`require(${pkg}).version().then(() => process.exit(0), (e) => { console.log(e.message); process.exit(3); })`,
    { PQC_IIOT_LIBRARY: path.join(tmp, 'missing.so') });
  assert.equal(bad.status, 3, bad.stderr);
  assert.match(bad.stdout, /PQC_IIOT_LIBRARY=.*no such file/);
});

test('a library with another ABI version is refused', (t) => {
  const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  if (cc.status !== 0) {
    t.skip('no C compiler to build a fake library');
    return;
  }
  const src = path.join(tmp, 'fake.c');
  const so = path.join(tmp, 'libfake.so');
  fs.writeFileSync(src, 'int pqc_abi_version(void) { return 2; }\nconst char *pqc_version(void) { return "9.9.9"; }\n');
  const build = spawnSync('cc', ['-shared', '-fPIC', '-o', so, src], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const pkg = JSON.stringify(path.resolve(__dirname, '..', 'pqc.js'));
  const r = runNode(`require(${pkg}).version().then(() => process.exit(0), (e) => { console.log(e.message); process.exit(3); })`,
    { PQC_IIOT_LIBRARY: so });
  assert.equal(r.status, 3, r.stderr + r.stdout);
  assert.match(r.stdout, /ABI version 2, this package needs 1/);
});

test('a worker that dies rejects what was pending; the next call starts a new one', async () => {
  const { client } = require('../lib/client');
  const sig = await pqc.Signature.create('ML-DSA-65');
  const { secretKey } = await sig.keypair();
  // Enough work queued that the worker cannot finish it before it dies.
  const pending = Array.from({ length: 20 }, (_, i) => sig.sign(secretKey, `in flight ${i}`));
  const w = client.worker;
  w.ref();
  await w.terminate();
  const settled = await Promise.allSettled(pending);
  const lost = settled.filter((r) => r.status === 'rejected');
  assert.ok(lost.length > 0, 'some calls were pending when the worker died');
  for (const r of lost) assert.match(r.reason.message, /exited/);
  // The old object's handle belonged to the dead worker.
  await rejectsWith(sig.sign(secretKey, 'again'), 'PQC_ERR_CLOSED');
  const fresh = await pqc.Signature.create('ML-DSA-65');
  const kp = await fresh.keypair();
  assert.equal(await fresh.verify(kp.publicKey, 'x', await fresh.sign(kp.secretKey, 'x')), true);
  await fresh.close();
});
