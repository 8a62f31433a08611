'use strict';
// The `pqc coap request` Node-RED node in a flow (node-red-node-test-helper)
// against a CoapServer of this process: verified responses on the first
// output, CoAP error answers on the second, failures reported as node errors (to Catch nodes),
// and the example flow examples/node-red/coap-flow.json against the C example
// server (examples/c/coap_server.c), and
// a request altered on the way (a UDP relay here) refused before any
// handler runs.

const test = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const helper = require('node-red-node-test-helper');

const pqc = require('../pqc');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { provision, compileC } = require('./fleet');

const REPO = path.resolve(__dirname, '..', '..', '..');

const NODES = ['pqc-identity', 'pqc-coap-request'].map((n) => require(`../nodes/${n}`));
const { CoapCode } = pqc;

helper.init(require.resolve('node-red'));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-red-coap-'));
let fleet;
let plc;
let server;
let calls;

test.before(async () => {
  await new Promise((resolve) => helper.startServer(resolve));
  const raw = async () => ({ rawKey: await pqc.randomBytes(32) });
  fleet = await provision(path.join(tmp, 'fleet'), {
    'plc-1': { key: await raw() },
    'hmi-1': { key: { passphrase: 'node-red coap passphrase' } },
    // The C example server's device, with the passphrase it reads from
    // PQC_PASSPHRASE.
    'c-plc': { key: { passphrase: 'node-red coap passphrase' } },
  });
  fs.writeFileSync(path.join(tmp, 'c-plc.chain'), fleet.devices['c-plc'].chain);
  fs.writeFileSync(path.join(tmp, 'hmi-1.chain'), fleet.devices['hmi-1'].chain);
  await fleet.ca.close();
  fs.writeFileSync(path.join(tmp, 'plc-1.chain'), fleet.devices['plc-1'].chain);
  plc = await pqc.Identity.open(fleet.devices['plc-1'].store, fleet.devices['plc-1'].key);
});

test.afterEach(async () => {
  await helper.unload();
  if (server) await server.srv.close();
  server = null;
});

test.after(async () => {
  await new Promise((resolve) => helper.stopServer(resolve));
  if (plc) await plc.close();
  await pqc.shutdown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// plc-1 serving /setpoint (hmi-1 may PUT and GET) and /alarms (nobody may).
async function startServer(mode) {
  calls = [];
  // A shared 2-core machine under load can take more than the default
  // 1.5 s to get a request to the handler and back.
  const srv = await pqc.CoapServer.create(plc, { mode, acl: 'hmi-1 GET,PUT /setpoint' });
  await srv.addPeer(fleet.devices['hmi-1'].chain);
  await srv.handle('/setpoint', (req) => {
    calls.push(req);
    if (req.method === 'GET') return { payload: JSON.stringify({ value: 21.5 }), contentFormat: 50 };
    return { code: CoapCode.CHANGED, contentFormat: 0, payload: `ok ${req.payload} from ${req.sender}` };
  });
  await srv.handle('/alarms', () => 'never');
  server = { srv, addr: await srv.listen() };
  return server;
}

function flow(addr, mode, extra = {}) {
  return {
    nodes: [
      { id: 'idHmi', type: 'pqc-identity', name: 'hmi-1', path: fleet.devices['hmi-1'].store, keyKind: 'passphrase' },
      {
        id: 'req', type: 'pqc coap request', identity: 'idHmi', address: addr, peer: 'plc-1',
        peerChain: path.join(tmp, 'plc-1.chain'), mode, method: 'PUT', path: '/setpoint', contentFormat: '0',
        timeout: 10, datatype: 'auto', ...extra, wires: [['ok'], ['refused']],
      },
      { id: 'ok', type: 'helper' },
      { id: 'refused', type: 'helper' },
    ],
    creds: { idHmi: { passphrase: fleet.devices['hmi-1'].key.passphrase } },
  };
}

function next(node) {
  return new Promise((resolve) => node.once('input', resolve));
}

// The next error a node reports (what Catch nodes receive): done(err).
function nextError(node) {
  return new Promise((resolve) => node.once('call:error', (call) => resolve(call.args[0])));
}

// Where the node's next result went: { port: 'ok' | 'refused' | 'error', msg }.
// Waiting on one output alone would hang, not fail, if it went elsewhere.
// The listeners are removed once one fires: a stale 'input' listener left
// on a helper node makes Node-RED skip the next one registered after it.
function outcome(req) {
  return new Promise((resolve) => {
    const ok = helper.getNode('ok');
    const refused = helper.getNode('refused');
    const onOk = (msg) => finish({ port: 'ok', msg });
    const onRefused = (msg) => finish({ port: 'refused', msg });
    const onError = (call) => finish({ port: 'error', msg: call.args[0] });
    function finish(r) {
      ok.removeListener('input', onOk);
      refused.removeListener('input', onRefused);
      req.removeListener('call:error', onError);
      resolve(r);
    }
    ok.on('input', onOk);
    refused.on('input', onRefused);
    req.on('call:error', onError);
  });
}

async function expectPort(promise, port) {
  const r = await promise;
  assert.equal(r.port, port, `went to ${r.port}: ${r.msg && (r.msg.code || r.msg.message || r.msg)}`);
  return r.msg;
}

for (const mode of ['session', 'oscore', 'signed']) {
  test(`pqc coap request (${mode}): a verified response on output 1, a refusal on output 2, status shows the code`, async () => {
    const { addr } = await startServer(mode);
    const f = flow(addr, mode);
    await helper.load(NODES, f.nodes, f.creds);
    const req = helper.getNode('req');
    const statuses = [];
    req.on('call:status', (c) => statuses.push(c.args[0]));

    const got = outcome(req);
    req.receive({ payload: 42.5 });
    const m = await expectPort(got, 'ok');
    assert.equal(m.payload, 'ok 42.5 from hmi-1');
    assert.equal(m.code, '2.04');
    assert.equal(m.statusCode, CoapCode.CHANGED);
    assert.equal(m.sender, 'plc-1');
    assert.equal(calls.length, 1);
    assert.deepEqual(statuses.at(-1), { fill: 'green', shape: 'dot', text: '2.04 from plc-1 · 1 sent' });

    // The node's own path wins over msg.path.
    const again = outcome(req);
    req.receive({ payload: 7, path: '/alarms' });
    assert.equal((await expectPort(again, 'ok')).payload, 'ok 7 from hmi-1');
    assert.equal(calls.length, 2);
  });
}

test('pqc coap request: msg.method and msg.path when the node leaves them open; 4.03 on output 2; JSON parsed', async () => {
  const { addr } = await startServer('session');
  const f = flow(addr, 'session', { method: '', path: '' });
  await helper.load(NODES, f.nodes, f.creds);
  const req = helper.getNode('req');
  const ok = outcome(req);
  req.receive({ method: 'GET', path: '/setpoint' });
  const m = await expectPort(ok, 'ok');
  assert.deepEqual(m.payload, { value: 21.5 });
  assert.equal(m.contentFormat, 50);
  assert.equal(m.sender, 'plc-1');

  const refused = outcome(req);
  req.receive({ method: 'PUT', path: '/alarms', payload: 'silence' });
  const r = await expectPort(refused, 'refused');
  assert.equal(r.code, '4.03');
  assert.equal(r.sender, 'plc-1');
  assert.equal(calls.filter((c) => c.path === '/alarms').length, 0);

  const caught = outcome(req);
  req.receive({ method: 'BREW', path: '/setpoint' });
  assert.match(String((await expectPort(caught, 'error')).message), /unknown CoAP method/);
});

test('pqc coap request: a request altered on the way gets an unauthenticated refusal and never reaches the handler', async () => {
  const { addr } = await startServer('session');
  const port = Number(addr.split(':')[1]);
  // Once tamper is set, flips the last byte of every request.
  const sock = dgram.createSocket('udp4');
  let client = null;
  let tamper = false;
  sock.on('message', (d, src) => {
    if (src.port === port) {
      if (client) sock.send(d, client.port, client.address);
      return;
    }
    client = src;
    const out = Buffer.from(d);
    if (tamper) out[out.length - 1] ^= 1;
    sock.send(out, port, '127.0.0.1');
  });
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  try {
    const f = flow(`127.0.0.1:${sock.address().port}`, 'session');
    await helper.load(NODES, f.nodes, f.creds);
    const req = helper.getNode('req');
    const ok = outcome(req);
    req.receive({ payload: 'clean' });
    assert.equal((await expectPort(ok, 'ok')).payload, 'ok clean from hmi-1');
    tamper = true;
    const refused = outcome(req);
    req.receive({ payload: 'tampered' });
    const r = await expectPort(refused, 'refused');
    assert.equal(r.code.charAt(0), '4', r.code);
    assert.equal(r.sender, '', 'an altered request cannot be answered with protection');
    assert.deepEqual(calls.map((c) => c.payload.toString()), ['clean']);
  } finally {
    sock.close();
  }
});

test('pqc coap request: no answer within the timeout goes to Catch with PQC_ERR_TIMEOUT', async () => {
  // A UDP socket that never answers.
  const sock = dgram.createSocket('udp4');
  await new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve));
  try {
    const f = flow(`127.0.0.1:${sock.address().port}`, 'signed', { timeout: 1 });
    await helper.load(NODES, f.nodes, f.creds);
    const req = helper.getNode('req');
    const caught = outcome(req);
    const statuses = [];
    req.on('call:status', (c) => statuses.push(c.args[0]));
    req.receive({ payload: 'anyone?' });
    const err = await expectPort(caught, 'error');
    assert.ok(err instanceof pqc.PqcError, String(err));
    assert.equal(err.code, 'PQC_ERR_TIMEOUT');
    assert.equal(statuses.at(-1).fill, 'red');
  } finally {
    sock.close();
  }
});

test('pqc coap request in plain mode over DTLS: no identity, the PSK from credentials, a PSK that is not hex refused', async () => {
  const key = await pqc.randomBytes(16);
  const srv = await pqc.CoapServer.create(null, { mode: 'plain', psk: { identity: 'gateway-7', key }, acl: 'gateway-7 GET /#', answerTimeoutMs: 10000 });
  await srv.handle('/status', (req) => `running, asked by ${req.sender}`);
  server = { srv, addr: await srv.listen() };
  const nodes = [
    { id: 'req', type: 'pqc coap request', address: server.addr, mode: 'plain', method: 'GET', path: '/status',
      pskIdentity: 'gateway-7', timeout: 5, datatype: 'utf8', wires: [['ok'], ['refused']] },
    { id: 'ok', type: 'helper' },
    { id: 'refused', type: 'helper' },
  ];
  await helper.load(NODES, nodes, { req: { psk: key.toString('hex') } });
  const got = outcome(helper.getNode('req'));
  helper.getNode('req').receive({});
  const m = await expectPort(got, 'ok');
  assert.equal(m.payload, 'running, asked by gateway-7');
  assert.equal(m.code, '2.05');
  assert.equal(m.sender, '');
  await helper.unload();

  // A key that is not hex never leaves the node.
  await helper.load(NODES, nodes, { req: { psk: 'not hex' } });
  const req = helper.getNode('req');
  const err = outcome(req);
  req.receive({});
  assert.match(String((await expectPort(err, 'error')).message), /hex/);
});

// The example flow as shipped, with its inject, debug and catch nodes
// replaced by helper nodes of the same ids, pointed at the C example server.
test('examples/node-red/coap-flow.json against the C example server: verified answers, the ACL refusal on output 2', async (t) => {
  const bin = path.join(tmp, 'coap_server');
  const why = compileC(path.join(REPO, 'examples', 'c', 'coap_server.c'), bin, REPO);
  if (why) {
    t.skip(why);
    return;
  }
  const proc = spawn(bin, [fleet.devices['c-plc'].store, 'session', 'hmi-1', path.join(tmp, 'hmi-1.chain'), '1'], {
    env: { ...process.env, PQC_PASSPHRASE: fleet.devices['c-plc'].key.passphrase }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  let passed = false;
  try {
    const first = await lines.next();
    assert.ok(!first.done, `coap_server printed nothing: ${stderr}`);
    const addr = /^listening (\S+)$/.exec(first.value)[1];

    const shipped = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', 'node-red', 'coap-flow.json'), 'utf8'));
    const nodes = [];
    for (const n of shipped) {
      if (n.type === 'tab' || n.type === 'inject' || n.type === 'catch') continue;
      const c = { ...n };
      delete c.z; // the helper's own flow holds them
      delete c.x;
      delete c.y;
      if (c.type === 'debug') nodes.push({ id: c.id, type: 'helper' });
      else if (c.type === 'pqc-identity') nodes.push({ ...c, path: fleet.devices['hmi-1'].store });
      else if (c.type === 'pqc coap request') {
        assert.equal(c.peer, 'plc-1', 'the shipped flow talks to plc-1');
        nodes.push({ ...c, address: addr, peer: 'c-plc', peerChain: path.join(tmp, 'c-plc.chain') });
      } else nodes.push(c);
    }
    const identityId = shipped.find((n) => n.type === 'pqc-identity').id;
    await helper.load(NODES, nodes, { [identityId]: { passphrase: fleet.devices['hmi-1'].key.passphrase } });
    const byName = (name) => helper.getNode(shipped.find((n) => n.name === name).id);
    const verified = byName('verified answer');
    const refused = byName('refused (4.xx / 5.xx)');

    let got = next(verified);
    byName('GET /hello').receive({ payload: '' });
    let m = await got;
    assert.equal(m.payload, 'hello hmi-1');
    assert.equal(m.code, '2.05');
    assert.equal(m.sender, 'c-plc');

    got = next(verified);
    byName('PUT /setpoint').receive({ payload: 45.5 });
    m = await got;
    assert.equal(m.payload, 'ok 45.5');
    assert.equal(m.code, '2.04');
    assert.equal(m.sender, 'c-plc');
    assert.equal((await lines.next()).value, 'setpoint from hmi-1: 45.5');

    const denied = next(refused);
    byName('DELETE /hello').receive({ payload: '' });
    m = await denied;
    assert.equal(m.code, '4.03');
    assert.equal(m.sender, 'c-plc');
    passed = true;
  } finally {
    await helper.unload();
    proc.stdin.end();
    // A server still waiting for its setpoint would wait a minute more.
    if (!passed) proc.kill();
  }
  assert.equal(await exited, 0, stderr);
});
