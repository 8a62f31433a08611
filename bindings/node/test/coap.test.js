'use strict';
// The Node.js CoAP API over loopback: a CoapServer and a CoapClient in every
// mode (session, signed, OSCORE, plain over DTLS with a PSK), the ACL and
// error answers, Observe, refusals an attacker on the path provokes
// (tampered and replayed datagrams through a UDP relay in this test), and a
// Node client against the C example server (examples/c/coap_server.c).

const test = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');

const pqc = require('../pqc');
const { provision, compileC, until } = require('./fleet');

const { CoapCode, CoapServer, CoapClient } = pqc;
const MODES = ['session', 'signed', 'oscore'];
const REPO = path.resolve(__dirname, '..', '..', '..');
const PASSPHRASE = 'coap example passphrase';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-coap-'));
let fleet;
const open = {};

test.before(async () => {
  const raw = async () => ({ rawKey: await pqc.randomBytes(32) });
  fleet = await provision(path.join(tmp, 'fleet'), {
    'plc-1': { key: await raw() },
    'hmi-1': { key: await raw() },
    'viewer-1': { key: await raw() },
    // Opened by the C example, which reads its passphrase from the
    // environment.
    'c-plc': { key: { passphrase: PASSPHRASE } },
    'node-client': { key: await raw() },
    'revoked-1': { key: await raw() },
  });
  // Kept open for the revocation test, which runs last.
  for (const name of ['plc-1', 'hmi-1', 'viewer-1', 'node-client', 'revoked-1']) {
    open[name] = await pqc.Identity.open(fleet.devices[name].store, fleet.devices[name].key);
  }
});

test.after(async () => {
  for (const id of Object.values(open)) await id.close();
  if (fleet) await fleet.ca.close();
  await pqc.shutdown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const chain = (name) => fleet.devices[name].chain;

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof pqc.PqcError, `expected PqcError, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

// A server of plc-1 in mode: /echo answers 2.04 with what it got (and
// counts its calls), /fail throws; hmi-1 may do anything, viewer-1 only GET.
async function plcServer(mode, calls = [], acl = 'hmi-1 * /#; viewer-1 GET /#') {
  // answerTimeoutMs: a loaded 2-core machine can take more than the
  // default 1.5 s from the request to the handler's answer.
  const srv = await CoapServer.create(open['plc-1'], { mode, acl, answerTimeoutMs: 10000 });
  const errors = [];
  srv.on('error', (e) => errors.push(e));
  await srv.addPeer(chain('hmi-1'));
  await srv.addPeer(chain('viewer-1'));
  await srv.handle('/echo', async (req) => {
    calls.push(req);
    if (req.method === 'GET') return 'echo';
    await new Promise((r) => setImmediate(r)); // an async handler
    return { code: CoapCode.CHANGED, contentFormat: 0, payload: Buffer.concat([Buffer.from(`${req.sender}:`), req.payload]) };
  });
  await srv.handle('/fail', () => { throw new Error('handler failed on purpose'); });
  return { srv, errors, addr: await srv.listen('127.0.0.1:0') };
}

async function clientOf(name, addr, mode, opts = {}) {
  const cl = await CoapClient.create(open[name], addr, { mode, peer: 'plc-1', timeoutMs: 20000, ...opts });
  await cl.addPeer(chain('plc-1'));
  return cl;
}

for (const mode of MODES) {
  test(`${mode}: verified round trips, error answers, ACL, handler failure`, async () => {
    const calls = [];
    const { srv, errors, addr } = await plcServer(mode, calls);
    const cl = await clientOf('hmi-1', addr, mode);
    const viewer = await clientOf('viewer-1', addr, mode);
    try {
      const cases = [
        { who: cl, method: 'POST', path: '/echo', payload: 'setpoint=42', code: CoapCode.CHANGED, body: 'hmi-1:setpoint=42', cf: 0 },
        { who: cl, method: 'PUT', path: '/echo', payload: Buffer.from([0, 1, 2, 255]), code: CoapCode.CHANGED, body: Buffer.concat([Buffer.from('hmi-1:'), Buffer.from([0, 1, 2, 255])]), cf: 0 },
        { who: cl, method: 'GET', path: '/echo?unit=C', code: CoapCode.CONTENT, body: 'echo' },
        { who: cl, method: 'GET', path: '/nowhere', code: CoapCode.NOT_FOUND, body: '' },
        { who: cl, method: 'POST', path: '/fail', payload: 'x', code: CoapCode.INTERNAL_SERVER_ERROR, body: '' },
        { who: viewer, method: 'GET', path: '/echo', code: CoapCode.CONTENT, body: 'echo' },
        { who: viewer, method: 'PUT', path: '/echo', payload: 'not allowed', code: CoapCode.FORBIDDEN, body: '' },
      ];
      for (const c of cases) {
        const before = calls.length;
        const r = await c.who.request(c.method, c.path, c.payload);
        assert.equal(r.code, c.code, `${c.method} ${c.path}: ${r.codeText}`);
        assert.equal(r.codeText, pqc.coapCodeText(c.code));
        assert.equal(r.sender, 'plc-1', 'responses are authenticated, refusals included');
        if (c.body !== undefined) assert.deepEqual(r.payload, Buffer.from(c.body));
        if (c.cf !== undefined) assert.equal(r.contentFormat, c.cf);
        if (c.code === CoapCode.FORBIDDEN) assert.equal(calls.length, before, 'a refused request reached the handler');
      }
      const seen = calls.find((r) => r.query === 'unit=C');
      assert.ok(seen, 'the query reaches the handler');
      assert.equal(seen.path, '/echo');
      assert.equal(calls.filter((r) => r.sender === 'viewer-1' && r.method === 'PUT').length, 0);
      assert.equal(errors.length, 1, 'the failing handler is reported');
      assert.match(errors[0].message, /on purpose/);

      // Limits are checked before anything is sent.
      await rejectsWith(cl.post('/echo', Buffer.alloc(pqc.COAP_MAX_PAYLOAD + 1)), 'PQC_ERR_INVALID_ARGUMENT');
      await assert.rejects(cl.request('BREW', '/echo'), TypeError);
    } finally {
      await viewer.close();
      await cl.close();
      await srv.close();
    }
    await rejectsWith(cl.get('/echo'), 'PQC_ERR_CLOSED');
  });
}

test('session: an unknown client and a client addressing another device get an unauthenticated 4.01, never a handler', async () => {
  const calls = [];
  const { srv, addr } = await plcServer('session', calls);
  try {
    // node-client's chain was never added: the server cannot authenticate it.
    const stranger = await clientOf('node-client', addr, 'session', { timeoutMs: 5000 });
    const s = await stranger.get('/echo');
    await stranger.close();
    assert.equal(s.code, CoapCode.UNAUTHORIZED, s.codeText);
    assert.equal(s.sender, '', 'the refusal is unprotected');
    // The client expects hmi-1 to answer, but plc-1 does.
    const confused = await CoapClient.create(open['hmi-1'], addr, { mode: 'session', peer: 'viewer-1', timeoutMs: 5000 });
    await confused.addPeer(chain('viewer-1'));
    const c = await confused.get('/echo');
    await confused.close();
    assert.equal(c.code, CoapCode.UNAUTHORIZED, c.codeText);
    assert.equal(c.sender, '');
    assert.equal(calls.length, 0, 'a handler ran for an unauthenticated request');
  } finally {
    await srv.close();
  }
});

test('plain mode over DTLS with a pre-shared key: the sender is the PSK identity', async () => {
  const psk = { identity: 'gateway-7', key: await pqc.randomBytes(16) };
  const srv = await CoapServer.create(null, { mode: 'plain', psk, acl: 'gateway-7 GET /#' });
  await srv.handle('/status', (req) => ({ payload: `ok for ${req.sender}`, contentFormat: 0 }));
  const addr = await srv.listen();
  const cl = await CoapClient.create(null, addr, { mode: 'plain', psk, timeoutMs: 10000 });
  try {
    const r = await cl.get('/status');
    assert.equal(r.code, CoapCode.CONTENT);
    assert.equal(r.payload.toString(), 'ok for gateway-7');
    assert.equal(r.sender, '', 'plain mode names no responder');
    assert.equal((await cl.put('/status', 'x')).code, CoapCode.FORBIDDEN);
  } finally {
    await cl.close();
    await srv.close();
  }
  await assert.rejects(CoapServer.create(open['plc-1'], { mode: 'plaintext' }), TypeError);
  await assert.rejects(CoapClient.create(null, addr, { mode: 'session' }), TypeError);
});

test('observe: the first answer, then notifications, through events and async iteration, until cancelled', async () => {
  const srv = await CoapServer.create(open['plc-1'], { mode: 'session' });
  await srv.addPeer(chain('hmi-1'));
  await srv.handle('/temp', () => ({ payload: '20.0' }));
  const cl = await clientOf('hmi-1', await srv.listen(), 'session');
  try {
    const obs = await cl.observe('/temp');
    const it = obs[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value.code, CoapCode.CONTENT);
    assert.equal(first.value.payload.toString(), '20.0');
    assert.equal(first.value.sender, 'plc-1');
    assert.equal(await srv.notify('/temp', '21.5'), 1);
    const second = await it.next();
    assert.equal(second.value.payload.toString(), '21.5');
    assert.equal(second.value.sender, 'plc-1');
    await obs.cancel();
    assert.equal((await it.next()).done, true);
    await until(async () => (await srv.notify('/temp', '22.0')) === 0, 'the server to drop the observer');
  } finally {
    await cl.close();
    await srv.close();
  }
});

// ---- An attacker on the path

// A UDP relay between one client and the server that flips the last byte
// of datagrams in either direction, and records the client's.
async function relay(serverAddr) {
  const [host, port] = [serverAddr.slice(0, serverAddr.lastIndexOf(':')), Number(serverAddr.slice(serverAddr.lastIndexOf(':') + 1))];
  const sock = dgram.createSocket('udp4');
  const r = { tamperRequests: false, tamperResponses: false, recording: false, recorded: [], client: null };
  const flip = (d) => {
    if (d.length <= 4) return d;
    const c = Buffer.from(d);
    c[c.length - 1] ^= 1;
    return c;
  };
  sock.on('message', (data, src) => {
    if (src.port === port && src.address === host) {
      if (r.client) sock.send(r.tamperResponses ? flip(data) : data, r.client.port, r.client.address);
      return;
    }
    r.client = src;
    if (r.recording) r.recorded.push(Buffer.from(data));
    sock.send(r.tamperRequests ? flip(data) : data, port, host);
  });
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  r.addr = `127.0.0.1:${sock.address().port}`;
  r.close = () => new Promise((resolve) => sock.close(resolve));
  // Sends the recorded datagrams from a socket of its own; resolves to the
  // code byte of the last answer, 0 if none came within ms.
  r.replay = async (ms = 3000) => {
    const s = dgram.createSocket('udp4');
    await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
    let code = 0;
    try {
      for (const d of r.recorded) {
        const answer = new Promise((resolve) => {
          const timer = setTimeout(() => resolve(null), ms);
          s.once('message', (m) => { clearTimeout(timer); resolve(m); });
        });
        s.send(d, port, host);
        const m = await answer;
        if (!m) break;
        code = m[1];
      }
    } finally {
      s.close();
    }
    return code;
  };
  return r;
}

for (const mode of MODES) {
  test(`${mode}: a tampered request never reaches the handler, a tampered response is refused, a replay is refused`, async () => {
    const calls = [];
    const { srv, addr } = await plcServer(mode, calls);
    const r = await relay(addr);
    try {
      let cl = await clientOf('hmi-1', r.addr, mode);
      assert.equal((await cl.post('/echo', 'clean')).code, CoapCode.CHANGED);
      const before = calls.length;

      r.tamperRequests = true;
      const refused = await cl.post('/echo', 'tampered request');
      r.tamperRequests = false;
      assert.equal(refused.code >> 5, 4, `a tampered request was answered ${refused.codeText}`);
      assert.equal(refused.sender, '', 'the refusal is unprotected');
      assert.equal(calls.length, before, 'the tampered request reached the handler');

      r.tamperResponses = true;
      await rejectsWith(cl.post('/echo', 'tampered response'), 'PQC_ERR_VERIFY');
      r.tamperResponses = false;
      await cl.close();

      // A fresh client, so only the data request is recorded.
      cl = await clientOf('hmi-1', r.addr, mode);
      assert.equal((await cl.get('/echo')).code, CoapCode.CONTENT);
      r.recording = true;
      assert.equal((await cl.post('/echo', 'once')).code, CoapCode.CHANGED);
      r.recording = false;
      await cl.close();
      const handled = calls.length;
      const code = await r.replay();
      assert.notEqual(code >> 5, 2, `the replay was answered ${pqc.coapCodeText(code)}`);
      assert.equal(calls.length, handled, 'the handler ran for a replayed request');
    } finally {
      await r.close();
      await srv.close();
    }
  });
}

// ---- Across languages: the C example server

test('a Node client against the C example server (examples/c/coap_server.c), in every mode', async (t) => {
  const bin = path.join(tmp, 'coap_server');
  const why = compileC(path.join(REPO, 'examples', 'c', 'coap_server.c'), bin, REPO);
  if (why) {
    t.skip(why);
    return;
  }
  const clientChain = path.join(tmp, 'node-client.chain');
  fs.writeFileSync(clientChain, chain('node-client'));
  for (const mode of MODES) {
    const proc = spawn(bin, [fleet.devices['c-plc'].store, mode, 'node-client', clientChain, '1'], {
      env: { ...process.env, PQC_PASSPHRASE: PASSPHRASE }, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    assert.ok(!first.done, `coap_server printed nothing: ${stderr}`);
    const m = /^listening (\S+)$/.exec(first.value);
    assert.ok(m, first.value);
    const cl = await CoapClient.create(open['node-client'], m[1], { mode, peer: 'c-plc', timeoutMs: 20000 });
    let passed = false;
    try {
      await cl.addPeer(chain('c-plc'));
      const hello = await cl.get('/hello');
      assert.equal(hello.code, CoapCode.CONTENT);
      assert.equal(hello.payload.toString(), 'hello node-client');
      assert.equal(hello.sender, 'c-plc');
      assert.equal(hello.contentFormat, 0);
      assert.equal((await cl.put('/hello', 'x')).code, CoapCode.FORBIDDEN, 'the ACL allows GET /hello only');
      const set = await cl.put('/setpoint', '42.5');
      assert.equal(set.code, CoapCode.CHANGED);
      assert.equal(set.payload.toString(), 'ok 42.5');
      assert.equal(set.sender, 'c-plc');
      assert.equal((await lines.next()).value, 'setpoint from node-client: 42.5');
      passed = true;
    } finally {
      await cl.close();
      proc.stdin.end();
      // A server still waiting for its setpoint would wait a minute more.
      if (!passed) proc.kill();
    }
    assert.equal(await exited, 0, stderr);
  }
});

// Last: it changes plc-1's revocation list.
test('session: a client revoked after it was let in is refused and never reaches the handler; its chain is refused', async () => {
  const calls = [];
  const { srv, addr } = await plcServer('session', calls, 'revoked-1 * /#');
  try {
    await srv.addPeer(chain('revoked-1'));
    let cl = await clientOf('revoked-1', addr, 'session', { timeoutMs: 5000 });
    const before = await cl.post('/echo', 'x');
    assert.equal(before.code, CoapCode.CHANGED);
    assert.equal(calls.length, 1);
    await cl.close();

    await open['plc-1'].applyRevocation(await fleet.ca.revoke([fleet.devices['revoked-1'].keyId]));
    cl = await clientOf('revoked-1', addr, 'session', { timeoutMs: 5000 });
    const after = await cl.post('/echo', 'x');
    await cl.close();
    assert.equal(after.code, CoapCode.UNAUTHORIZED, after.codeText);
    assert.equal(after.sender, '', 'a revoked client gets an unprotected refusal');
    assert.equal(calls.length, 1, 'the revoked client reached the handler');
    await rejectsWith(srv.addPeer(chain('revoked-1')), 'PQC_ERR_REVOKED');
  } finally {
    await srv.close();
  }
});
