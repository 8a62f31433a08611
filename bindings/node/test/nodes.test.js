'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const helper = require('node-red-node-test-helper');

const pqc = require('../pqc');
const keysNode = require('../nodes/pqc-keys');
const signNode = require('../nodes/pqc-sign');
const verifyNode = require('../nodes/pqc-verify');
const identityNode = require('../nodes/pqc-identity');
const kemNode = require('../nodes/pqc-kem');

const ALL = [keysNode, signNode, verifyNode, identityNode, kemNode];
helper.init(require.resolve('node-red'));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-red-test-'));
let pair; // { algorithm, publicKey, secretKey } as base64
let otherPair;

test.before(async () => {
  await new Promise((resolve) => helper.startServer(resolve));
  const sig = await pqc.Signature.create('ML-DSA-65');
  const a = await sig.keypair();
  const b = await sig.keypair();
  pair = { publicKey: a.publicKey.toString('base64'), secretKey: a.secretKey.toString('base64') };
  otherPair = { publicKey: b.publicKey.toString('base64'), secretKey: b.secretKey.toString('base64') };
  await sig.close();
});

test.afterEach(async () => {
  await helper.unload();
});

test.after(async () => {
  await new Promise((resolve) => helper.stopServer(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

// keys -> sign -> verify -> [valid, invalid], with helper nodes as sinks.
function signVerifyFlow(extra = {}) {
  return [
    { id: 'keys', type: 'pqc-keys', algorithm: 'ML-DSA-65', source: 'credentials', publicKey: pair.publicKey, ...extra.keys },
    { id: 'sign', type: 'pqc sign', keys: 'keys', property: 'payload', target: 'signature', wires: [['verify', 'signed']] },
    { id: 'verify', type: 'pqc verify', keys: extra.verifyKeys || 'keys', property: 'payload', source: 'signature', wires: [['valid'], ['invalid']] },
    { id: 'signed', type: 'helper' },
    { id: 'valid', type: 'helper' },
    { id: 'invalid', type: 'helper' },
    ...(extra.nodes || []),
  ];
}

// Node-RED nodes treat 'input' listeners specially (EventEmitter.once does
// not detach them), so each sink gets one permanent listener per test and
// a queue of arrivals.
const sinks = new WeakMap();
function sink(node, event = 'input') {
  let perNode = sinks.get(node);
  if (!perNode) sinks.set(node, (perNode = {}));
  if (!perNode[event]) {
    const q = { items: [], waiters: [] };
    node.on(event, (m) => {
      const w = q.waiters.shift();
      if (w) w(m);
      else q.items.push(m);
    });
    perNode[event] = q;
  }
  return perNode[event];
}

function next(node, event = 'input', ms = 10000) {
  const q = sink(node, event);
  if (q.items.length) return Promise.resolve(q.items.shift());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} on ${node.id} within ${ms} ms`)), ms);
    t.unref();
    q.waiters.push((m) => {
      clearTimeout(t);
      resolve(m);
    });
  });
}

// Resolves with the output the next message reached, failing if it reached
// both or if a stray second message shows up.
async function routed(valid, invalid, ms = 10000) {
  const qv = sink(valid);
  const qi = sink(invalid);
  const first = await Promise.race([
    next(valid, 'input', ms).then((msg) => ({ output: 'valid', msg })),
    next(invalid, 'input', ms).then((msg) => ({ output: 'invalid', msg })),
  ]).catch(() => null);
  if (!first) throw new Error('message reached no output');
  // The losing waiter is still queued; drop it, then look for a stray.
  (first.output === 'valid' ? qi : qv).waiters.shift();
  await new Promise((r) => setTimeout(r, 50));
  if (qv.items.length || qi.items.length) throw new Error('message reached both outputs');
  return first;
}

const creds = () => ({ keys: { secretKey: pair.secretKey } });

test('all nodes load and show their status', async () => {
  const flow = [
    ...signVerifyFlow(),
    { id: 'id1', type: 'pqc-identity', path: path.join(tmp, 'none.store'), keyKind: 'passphrase' },
    { id: 'kem', type: 'pqc kem', mode: 'encapsulate', algorithm: 'ML-KEM-768', wires: [[]] },
  ];
  await helper.load(ALL, flow, creds());
  const sign = helper.getNode('sign');
  assert.equal(sign.type, 'pqc sign');
  assert.equal(helper.getNode('verify').type, 'pqc verify');
  assert.equal(helper.getNode('keys').type, 'pqc-keys');
  assert.equal(helper.getNode('id1').type, 'pqc-identity');
  const status = await next(sign, 'call:status');
  assert.equal(status.args[0].text, 'ML-DSA-65');
});

test('a flow signs then verifies: valid output gets the signed bytes', async () => {
  await helper.load(ALL, signVerifyFlow(), creds());
  const signed = next(helper.getNode('signed'));
  const out = routed(helper.getNode('valid'), helper.getNode('invalid'));
  helper.getNode('sign').receive({ payload: { temperature: 21.5, unit: 'C' }, topic: 'plant/boiler' });
  const s = await signed;
  assert.ok(Buffer.isBuffer(s.signature));
  assert.equal(s.signature.length, 3309);
  assert.equal(s.signatureAlgorithm, 'ML-DSA-65');
  const r = await out;
  assert.equal(r.output, 'valid');
  assert.equal(r.msg.payload, '{"temperature":21.5,"unit":"C"}');
  assert.equal(r.msg.topic, 'plant/boiler');
  const status = helper.getNode('verify').status.lastCall.args[0];
  assert.equal(status.fill, 'green');
  assert.equal(status.shape, 'dot');
});

test('a tampered payload never reaches the valid output', async () => {
  await helper.load(ALL, signVerifyFlow(), creds());
  const sign = helper.getNode('sign');
  const verify = helper.getNode('verify');
  const valid = helper.getNode('valid');
  const invalid = helper.getNode('invalid');
  // Sign once and capture the message before the verify node sees it.
  const signed = next(helper.getNode('signed'));
  const first = routed(valid, invalid);
  sign.receive({ payload: Buffer.from('temperature=21.5') });
  const msg = await signed;
  assert.equal((await first).output, 'valid');

  const cases = [
    { payload: Buffer.from('temperature=99.5'), signature: msg.signature },
    { payload: 'temperature=21.5 ', signature: msg.signature },
    { payload: Buffer.from('temperature=21.5'), signature: Buffer.concat([msg.signature.subarray(0, 100), Buffer.from([msg.signature[100] ^ 1]), msg.signature.subarray(101)]) },
    { payload: Buffer.from('temperature=21.5'), signature: msg.signature.subarray(0, 3308) },
    { payload: Buffer.from('temperature=21.5') },
    { payload: Buffer.from('temperature=21.5'), signature: 42 },
    { signature: msg.signature },
  ];
  for (const c of cases) {
    const out = routed(valid, invalid);
    verify.receive(c);
    const r = await out;
    assert.equal(r.output, 'invalid', `case ${JSON.stringify(Object.keys(c))} went to ${r.output}`);
    assert.equal(typeof r.msg.error.message, 'string');
  }
  const status = verify.status.lastCall.args[0];
  assert.equal(status.fill, 'red');
  assert.equal(status.shape, 'ring');

  // Changed after the node took it: the valid output carries what was verified.
  const good = Buffer.from('temperature=21.5');
  const out = routed(valid, invalid);
  verify.receive({ payload: good, signature: msg.signature });
  good.write('temperature=99.9');
  const r = await out;
  assert.equal(r.output, 'valid');
  assert.equal(r.msg.payload.toString(), 'temperature=21.5');
});

test('a signature by another key is invalid; base64 signatures work', async () => {
  await helper.load(ALL, signVerifyFlow({
    verifyKeys: 'other',
    nodes: [{ id: 'other', type: 'pqc-keys', algorithm: 'ML-DSA-65', source: 'credentials', publicKey: otherPair.publicKey }],
  }), creds());
  const out = routed(helper.getNode('valid'), helper.getNode('invalid'));
  helper.getNode('sign').receive({ payload: 'hello' });
  assert.equal((await out).output, 'invalid');

  const sig = await pqc.Signature.create('ML-DSA-65');
  const s = await sig.sign(Buffer.from(otherPair.secretKey, 'base64'), 'hello');
  await sig.close();
  const out2 = routed(helper.getNode('valid'), helper.getNode('invalid'));
  helper.getNode('verify').receive({ payload: 'hello', signature: s.toString('base64') });
  assert.equal((await out2).output, 'valid');
});

test('a wrong secret key shows a red ring and signing fails', async () => {
  await helper.load(ALL, signVerifyFlow(), { keys: { secretKey: otherPair.secretKey } });
  const sign = helper.getNode('sign');
  const err = next(sign, 'call:error');
  sign.receive({ payload: 'x' });
  const call = await err;
  assert.match(String(call.args[0]), /does not match/);
  const status = sign.status.lastCall.args[0];
  assert.equal(status.fill, 'red');
  assert.equal(status.shape, 'ring');
});

test('key file: created on first use with mode 0600, then reused', async () => {
  const file = path.join(tmp, 'keys', 'boiler.json');
  const flow = signVerifyFlow({ keys: { source: 'file', file, createFile: true, publicKey: '' } });
  await helper.load(ALL, flow, {});
  const out = routed(helper.getNode('valid'), helper.getNode('invalid'));
  helper.getNode('sign').receive({ payload: 'from a key file' });
  assert.equal((await out).output, 'valid');
  const st = fs.statSync(file);
  assert.equal(st.mode & 0o777, 0o600);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(doc.algorithm, 'ML-DSA-65');
  assert.equal(Buffer.from(doc.publicKey, 'base64').length, 1952);
});

test('credentials never appear in the exported flow JSON', async () => {
  const store = path.join(tmp, 'dev.store');
  const dev = await pqc.Identity.create(store, 'boiler-3', { passphrase: 'plant passphrase 42' });
  await dev.close();
  const flow = [
    ...signVerifyFlow(),
    { id: 'id1', type: 'pqc-identity', path: store, keyKind: 'passphrase' },
  ];
  await helper.load(ALL, flow, { ...creds(), id1: { passphrase: 'plant passphrase 42' } });
  // Deploy as the editor does: credentials inline, which the runtime must
  // strip from the flow configuration it saves and exports.
  const deployed = flow.map((n) => {
    if (n.id === 'keys') return { ...n, credentials: { secretKey: pair.secretKey } };
    if (n.id === 'id1') return { ...n, credentials: { passphrase: 'plant passphrase 42' } };
    return n;
  });
  await helper.setFlows(deployed, 'full');
  const exported = JSON.stringify(helper._redNodes.getFlows());
  assert.ok(!exported.includes(pair.secretKey), 'secret key in exported flow');
  assert.ok(!exported.includes('plant passphrase 42'), 'passphrase in exported flow');
  assert.ok(exported.includes(pair.publicKey), 'the public key is part of the flow');
  // ... and yet the runtime has them: the identity opens and signing works.
  assert.equal(await helper.getNode('id1').deviceId(), 'boiler-3');
  const out = routed(helper.getNode('valid'), helper.getNode('invalid'));
  helper.getNode('sign').receive({ payload: 'after deploy' });
  assert.equal((await out).output, 'valid');
  // The node definitions declare them as password credentials.
  for (const type of ['pqc-keys', 'pqc-identity']) {
    const c = helper._redNodes.getCredentialDefinition(type);
    for (const v of Object.values(c)) assert.equal(v.type, 'password');
  }
});

test('pqc-identity: a wrong passphrase is reported', async () => {
  const store = path.join(tmp, 'dev2.store');
  const dev = await pqc.Identity.create(store, 'pump-7', { passphrase: 'right' });
  await dev.close();
  await helper.load(ALL, [{ id: 'id1', type: 'pqc-identity', path: store, keyKind: 'passphrase' }], { id1: { passphrase: 'wrong' } });
  await assert.rejects(helper.getNode('id1').identity(), (e) => e.code === 'PQC_ERR_WRONG_KEY');
});

test('pqc kem: encapsulate then decapsulate agree on the secret', async () => {
  const kem = await pqc.Kem.create('ML-KEM-768');
  const { publicKey, secretKey } = await kem.keypair();
  await kem.close();
  const flow = [
    { id: 'enc', type: 'pqc kem', mode: 'encapsulate', algorithm: 'ML-KEM-768', publicKey: publicKey.toString('base64'), wires: [['dec', 'encOut']] },
    { id: 'dec', type: 'pqc kem', mode: 'decapsulate', algorithm: 'ML-KEM-768', wires: [['decOut']] },
    { id: 'encOut', type: 'helper' },
    { id: 'decOut', type: 'helper' },
  ];
  await helper.load(ALL, flow, { dec: { secretKey: secretKey.toString('base64') } });
  const e = next(helper.getNode('encOut'));
  const d = next(helper.getNode('decOut'));
  helper.getNode('enc').receive({ payload: 'ignored' });
  const em = await e;
  const dm = await d;
  assert.equal(em.sharedSecret.length, 32);
  assert.deepEqual(dm.sharedSecret, em.sharedSecret);
});

test('the sign-verify example flow loads and runs: readings verify, the tampered one is rejected', async () => {
  const example = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'examples', 'node-red', 'sign-verify-flow.json'), 'utf8'));
  // The real change node (the "attacker"); helper stand-ins for inject and
  // debug, which need the editor; the key file in a temporary directory.
  const changeNode = require(path.join(path.dirname(require.resolve('@node-red/nodes/package.json')), 'core', 'function', '15-change.js'));
  const flow = example.map((n) => {
    if (n.type === 'debug') return { id: n.id, type: 'helper', z: n.z };
    if (n.type === 'inject') return { id: n.id, type: 'helper', z: n.z, wires: n.wires };
    if (n.type === 'pqc-keys') return { ...n, file: path.join(tmp, 'example-keys.json') };
    return n;
  });
  await helper.load([...ALL, changeNode], flow, {});
  const byName = (type, re) => helper.getNode(example.find((n) => n.type === type && re.test(n.name)).id);
  const valid = byName('debug', /^valid/);
  const invalid = byName('debug', /invalid/);

  const ok = routed(valid, invalid);
  byName('inject', /boiler-3 reading/).send({ payload: { sensor: 'boiler-3', temperature: 71.2 } });
  const r1 = await ok;
  assert.equal(r1.output, 'valid');
  assert.equal(JSON.parse(r1.msg.payload).temperature, 71.2);

  const bad = routed(valid, invalid);
  byName('inject', /tampered/).send({ payload: { sensor: 'boiler-3', temperature: 65.5, unit: 'C' } });
  const r2 = await bad;
  assert.equal(r2.output, 'invalid');
  assert.match(r2.msg.payload, /"temperature":95.5/);
});
