'use strict';
// The Node-RED nodes over a real Mosquitto, with node-red-node-test-helper:
// a flow publishes (pqc mqtt out) to a flow that receives and verifies
// (pqc mqtt in); frames injected by a plain MQTT client (tampered, replayed,
// truncated, garbage, re-routed) never reach the output; a C program built
// from examples/c/mqtt_sensor.c publishes to the Node-RED flow; signed
// envelopes and sealed messages go through sign/verify and seal/open.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const helper = require('node-red-node-test-helper');
const mqtt = require('mqtt');

const pqc = require('../pqc');
const { startMosquitto, provision, compileC, until } = require('./fleet');
const flows = require('./flows');

const { identityNode, sink } = flows;

const NODES = ['pqc-identity', 'pqc-broker', 'pqc-mqtt-in', 'pqc-mqtt-out', 'pqc-seal', 'pqc-sign', 'pqc-verify', 'pqc-keys']
  .map((n) => require(`../nodes/${n}`));
const REPO = path.resolve(__dirname, '..', '..', '..');
const TOPIC = 'plant/line1/telemetry';
const PASSPHRASE = 'node-red interop passphrase';

helper.init(require.resolve('node-red'));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-red-mqtt-'));
let broker;
let fleet;

test.before(async () => {
  await new Promise((resolve) => helper.startServer(resolve));
  broker = await startMosquitto(path.join(tmp, 'mosquitto'));
  const raw = async () => ({ rawKey: await pqc.randomBytes(32) });
  fleet = await provision(path.join(tmp, 'fleet'), {
    // A passphrase, as the C example reads it from PQC_PASSPHRASE.
    'sensor-1': { publish: 'plant/+/telemetry', key: { passphrase: PASSPHRASE } },
    'scada-1': { subscribe: 'plant/#', key: await raw() },
    // Fresh devices for each cross-language test, so each starts with no
    // session state left by another test.
    'c-sensor': { publish: 'plant/+/telemetry', key: { passphrase: PASSPHRASE } },
    'c-scada': { subscribe: 'plant/#', key: await raw() },
    'py-sensor': { publish: 'plant/+/telemetry', key: { passphrase: PASSPHRASE } },
    'py-scada': { subscribe: 'plant/#', key: await raw() },
  });
  await fleet.ca.close();
  for (const name of ['sensor-1', 'scada-1']) {
    fs.writeFileSync(path.join(tmp, `${name}.chain`), fleet.devices[name].chain);
  }
});

test.afterEach(async () => {
  await helper.unload();
});

test.after(async () => {
  await new Promise((resolve) => helper.stopServer(resolve));
  if (broker) await broker.stop();
  await pqc.shutdown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// An identity config node for a provisioned device, and its credentials.
function identity(id, name) {
  return identityNode(fleet, id, name);
}

function brokerNode(id, identityId, url = broker.url) {
  return { id, type: 'pqc-broker', url, identity: identityId, mode: 'auto', qos: '1' };
}

// The last status a node showed.
function statusOf(node) {
  const seen = { last: null };
  node.on('call:status', (call) => { seen.last = call.args[0]; });
  return seen;
}

// The sensor publishing flow and the SCADA receiving flow, on two
// identities, through Mosquitto.
function pubSubFlow() {
  return flows.pubSubFlow(fleet, { url: broker.url });
}

test('nodes load; mqtt out -> Mosquitto -> mqtt in delivers verified messages; injected frames never reach the output', async () => {
  const { flow, creds } = pubSubFlow();
  await helper.load(NODES, flow, creds);
  const received = sink(helper.getNode('received'));
  const inStatus = statusOf(helper.getNode('in'));
  const scadaClient = await helper.getNode('brokerScada').client();
  await helper.getNode('brokerSensor').client();

  // A plain MQTT client: sees only frames, and will inject altered ones.
  const spy = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
  const frames = [];
  spy.on('message', (topic, payload) => { if (topic === TOPIC) frames.push(Buffer.from(payload)); });
  await spy.subscribeAsync(TOPIC);

  const out = helper.getNode('out');
  out.receive({ topic: TOPIC, payload: { sensor: 'boiler-3', temperature: 71.5 } });
  const m = await received.next();
  assert.deepEqual(m.payload, { sensor: 'boiler-3', temperature: 71.5 });
  assert.equal(m.sender, 'sensor-1');
  assert.equal(m.topic, TOPIC);
  await until(() => frames.length >= 1, 'the spy to see the frame');
  assert.equal(frames[0].indexOf('boiler-3'), -1, 'plaintext on the broker');

  const before = await scadaClient.stats();
  const tampered = Buffer.from(frames[0]);
  tampered[tampered.length - 30] ^= 0x40;
  const injected = [
    [TOPIC, tampered], // altered in transit
    [TOPIC, frames[0]], // replayed
    [TOPIC, frames[0].subarray(0, frames[0].length - 10)], // truncated
    [TOPIC, Buffer.from('{"sensor":"boiler-3","temperature":20}')], // plain JSON
    ['plant/line9/telemetry', frames[0]], // re-routed to another topic
  ];
  for (const [topic, bytes] of injected) await spy.publishAsync(topic, bytes, { qos: 1 });
  await until(async () => {
    const s = await scadaClient.stats();
    return s.dropped_unprotect + s.dropped_bad_topic - before.dropped_unprotect - before.dropped_bad_topic >= injected.length;
  }, 'the injected frames to be counted as rejected');
  await spy.endAsync();

  // The next message out is the next genuine one: nothing injected got through.
  out.receive({ topic: TOPIC, payload: 'temp=70.1' });
  const m2 = await received.next();
  assert.equal(m2.payload, 'temp=70.1');
  assert.equal(m2.sender, 'sensor-1');
  assert.equal(received.items.length, 0, 'an injected frame reached the output');
  // The status is refreshed from the client's counters once a second.
  const want = new RegExp(`^connected · (session established · )?2 in · ${injected.length} rejected$`);
  await until(() => inStatus.last && want.test(inStatus.last.text),
    () => `the status to read ${want}; it reads ${JSON.stringify(inStatus.last)}`);
});

test('credentials (identity passphrase, broker password) stay out of the exported flow', async () => {
  const { flow, creds } = pubSubFlow();
  creds.brokerSensor = { username: 'plant-user', password: 'broker-secret-42' };
  await helper.load(NODES, flow, creds);
  // Deploy as the editor does, credentials inline; the runtime must strip
  // them from the configuration it saves and exports.
  const deployed = flow.map((n) => (creds[n.id] ? { ...n, credentials: creds[n.id] } : n));
  await helper.setFlows(deployed, 'full');
  const exported = JSON.stringify(helper._redNodes.getFlows());
  assert.ok(!exported.includes('broker-secret-42'), 'broker password in the exported flow');
  assert.ok(!exported.includes(fleet.devices['scada-1'].key.rawKey.toString('hex')), 'raw key in the exported flow');
  assert.ok(exported.includes(broker.url), 'the broker URL is part of the flow');
  // ... and the runtime still has them: both ends connect and talk.
  const received = sink(helper.getNode('received'));
  await helper.getNode('brokerScada').client();
  helper.getNode('out').receive({ topic: TOPIC, payload: 'after deploy' });
  assert.equal((await received.next()).payload, 'after deploy');
  assert.equal(helper._redNodes.getCredentialDefinition('pqc-broker').password.type, 'password');
});

test('interop: the C sensor (examples/c/mqtt_sensor.c) publishes, the Node-RED flow receives and verifies', async (t) => {
  const exe = path.join(tmp, 'mqtt_sensor');
  const why = compileC(path.join(REPO, 'examples', 'c', 'mqtt_sensor.c'), exe, REPO);
  if (why) {
    t.skip(why);
    return;
  }
  // A broker of its own: the retained key announcements of other tests'
  // devices would otherwise count as readers for the sensor's READERS wait.
  const own = await startMosquitto(path.join(tmp, 'mosquitto-c'));
  t.after(() => own.stop());
  const scada = identity('idScada', 'c-scada');
  await helper.load(NODES, [
    scada.node, brokerNode('brokerScada', 'idScada', own.url),
    { id: 'in', type: 'pqc mqtt in', broker: 'brokerScada', topic: 'plant/+/telemetry', datatype: 'utf8', wires: [['received']] },
    { id: 'received', type: 'helper' },
  ], { idScada: scada.creds });
  const received = sink(helper.getNode('received'));
  const scadaClient = await helper.getNode('brokerScada').client();

  const count = 3;
  // READERS=1: the sensor waits for the flow's key announcement first.
  const proc = spawn(exe, [own.url, fleet.devices['c-sensor'].store, String(count), '1'], {
    env: { ...process.env, PQC_PASSPHRASE: PASSPHRASE }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 1; i <= count; i++) {
    const m = await received.next();
    const why = async () => `${output}\nscada stats ${JSON.stringify(await scadaClient.stats())}`;
    assert.equal(m.sender, 'c-sensor');
    assert.equal(m.topic, TOPIC);
    if (!m.payload.startsWith(`reading ${i}: temp=`)) assert.fail(`got ${m.payload} for reading ${i}\n${await why()}`);
  }
  assert.equal(await exited, 0, output);
});

// A Python publisher (bindings/python, ctypes over the same library),
// run as its own process with the source tree on PYTHONPATH.
const PY_PUBLISHER = `
import os, sys, time
from pqc_iiot import Identity, MqttClient, StateError
url, store, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
# Frames for py-scada only: publish raises StateError until its keys are known.
with Identity.open(store, passphrase=os.environ["PQC_PASSPHRASE"]) as dev, \\
        MqttClient(dev, url, recipients=["py-scada"]) as c:
    c.connect(timeout=10)
    for i in range(1, count + 1):
        for _ in range(100):
            try:
                c.publish("plant/line2/telemetry", f"python reading {i}".encode(), timeout=10)
                break
            except StateError:  # no reader has announced keys yet
                time.sleep(0.1)
        else:
            sys.exit("no reader announced itself")
print("published", count)
`;

test('interop: a Python publisher (bindings/python) reaches the Node-RED flow', async (t) => {
  const python = process.env.PYTHON || 'python3';
  const env = {
    ...process.env,
    PYTHONPATH: path.join(REPO, 'bindings', 'python', 'src'),
    PQC_IIOT_LIBRARY: path.join(REPO, 'build', 'lib', 'libpqc_iiot.so'),
    PQC_PASSPHRASE: PASSPHRASE,
  };
  const probe = require('node:child_process').spawnSync(python, ['-c', 'import pqc_iiot'], { env, encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`python cannot import pqc_iiot: ${probe.stderr || probe.error}`);
    return;
  }
  const own = await startMosquitto(path.join(tmp, 'mosquitto-py'));
  t.after(() => own.stop());
  const scada = identity('idScada', 'py-scada');
  await helper.load(NODES, [
    scada.node, brokerNode('brokerScada', 'idScada', own.url),
    { id: 'in', type: 'pqc mqtt in', broker: 'brokerScada', topic: 'plant/line2/+', datatype: 'utf8', wires: [['received']] },
    { id: 'received', type: 'helper' },
  ], { idScada: scada.creds });
  const received = sink(helper.getNode('received'));
  await helper.getNode('brokerScada').client();
  const proc = spawn(python, ['-c', PY_PUBLISHER, own.url, fleet.devices['py-sensor'].store, '2'], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 1; i <= 2; i++) {
    const m = await received.next();
    assert.deepEqual([m.sender, m.topic, m.payload], ['py-sensor', 'plant/line2/telemetry', `python reading ${i}`]);
  }
  assert.equal(await exited, 0, output);
});

test('sign with an identity, verify with another identity of the fleet; altered or re-routed envelopes are invalid', async () => {
  const sensor = identity('idSensor', 'sensor-1');
  const scada = identity('idScada', 'scada-1');
  await helper.load(NODES, [
    sensor.node, scada.node,
    { id: 'sign', type: 'pqc sign', identity: 'idSensor', property: 'payload', encoding: 'buffer', wires: [['signed']] },
    { id: 'verify', type: 'pqc verify', identity: 'idScada', property: 'payload', datatype: 'json', wires: [['valid'], ['invalid']] },
    { id: 'signed', type: 'helper' },
    { id: 'valid', type: 'helper' },
    { id: 'invalid', type: 'helper' },
  ], { idSensor: sensor.creds, idScada: scada.creds });
  const signed = sink(helper.getNode('signed'));
  const valid = sink(helper.getNode('valid'));
  const invalid = sink(helper.getNode('invalid'));
  const verify = helper.getNode('verify');

  helper.getNode('sign').receive({ topic: 'plant/boiler-3', payload: { temperature: 71.5 } });
  const s = await signed.next();
  assert.ok(Buffer.isBuffer(s.payload));
  const envelope = s.payload;

  verify.receive({ topic: 'plant/boiler-3', payload: Buffer.from(envelope) });
  const ok = await valid.next();
  assert.deepEqual(ok.payload, { temperature: 71.5 });
  assert.equal(ok.sender, 'sensor-1');

  const altered = Buffer.from(envelope);
  altered[altered.indexOf('71.5')] ^= 1;
  for (const [what, msg] of [
    ['altered', { topic: 'plant/boiler-3', payload: altered }],
    ['re-routed', { topic: 'plant/boiler-4', payload: Buffer.from(envelope) }],
    ['truncated', { topic: 'plant/boiler-3', payload: envelope.subarray(0, 100) }],
    ['not an envelope', { topic: 'plant/boiler-3', payload: { temperature: 71.5 } }],
  ]) {
    verify.receive(msg);
    const bad = await invalid.next();
    assert.ok(bad.error && bad.error.message, `${what}: no reason given`);
  }
  assert.equal(valid.items.length, 0, 'an invalid envelope reached the valid output');
});

test('seal for a peer, open once: a replayed frame goes to the rejected output', async () => {
  const sensor = identity('idSensor', 'sensor-1');
  const scada = identity('idScada', 'scada-1');
  await helper.load(NODES, [
    sensor.node, scada.node,
    { id: 'seal', type: 'pqc seal', identity: 'idSensor', recipient: 'scada-1', context: 'valves', peers: path.join(tmp, 'scada-1.chain'), wires: [['sealed']] },
    { id: 'open', type: 'pqc open', identity: 'idScada', context: 'valves', peers: path.join(tmp, 'sensor-1.chain'), datatype: 'utf8', wires: [['opened'], ['rejected']] },
    { id: 'sealed', type: 'helper' },
    { id: 'opened', type: 'helper' },
    { id: 'rejected', type: 'helper' },
  ], { idSensor: sensor.creds, idScada: scada.creds });
  const sealed = sink(helper.getNode('sealed'));
  const opened = sink(helper.getNode('opened'));
  const rejected = sink(helper.getNode('rejected'));

  helper.getNode('seal').receive({ payload: 'valve-7=open' });
  const frame = (await sealed.next()).payload;
  assert.equal(frame.indexOf('valve-7'), -1);
  const open = helper.getNode('open');
  open.receive({ payload: Buffer.from(frame) });
  const o = await opened.next();
  assert.equal(o.payload, 'valve-7=open');
  assert.equal(o.sender, 'sensor-1');

  open.receive({ payload: Buffer.from(frame) });
  assert.equal((await rejected.next()).error.code, 'PQC_ERR_REPLAY');

  // A tampered copy of a fresh frame is refused, and does not use the
  // frame up: the genuine one still opens afterwards.
  helper.getNode('seal').receive({ payload: 'valve-7=closed' });
  const second = (await sealed.next()).payload;
  const flipped = Buffer.from(second);
  flipped[flipped.length - 4] ^= 1;
  open.receive({ payload: flipped });
  assert.equal((await rejected.next()).error.code, 'PQC_ERR_VERIFY');
  open.receive({ payload: Buffer.from(second), topic: 'ignored: the node sets the context' });
  assert.equal((await opened.next()).payload, 'valve-7=closed');
  assert.equal(opened.items.length + rejected.items.length, 0);
});
