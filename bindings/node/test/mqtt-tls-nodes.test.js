'use strict';
// The pqc-broker config node over TLS, with node-red-node-test-helper and a
// real Mosquitto whose listener speaks only TLS (certificates made by the
// openssl command for this run): pqc mqtt out -> broker -> pqc mqtt in
// through ssl:// with a TLS CA file; a client certificate for a broker that
// demands one; a CA file of another CA leaves the nodes red and delivers
// nothing; TLS settings on a tcp:// URL are refused; the TLS paths are part
// of the exported flow while the broker password is not.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const helper = require('node-red-node-test-helper');

const pqc = require('../pqc');
const { startMosquitto, tlsAuthority, provision, until } = require('./fleet');
const { pubSubFlow, sink } = require('./flows');

const NODES = ['pqc-identity', 'pqc-broker', 'pqc-mqtt-in', 'pqc-mqtt-out'].map((n) => require(`../nodes/${n}`));
const TOPIC = 'plant/line1/telemetry';

helper.init(require.resolve('node-red'));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-red-tls-'));
let brokerCa;
let otherCa;
let clientCert;
let tlsBroker; // TLS, no client certificate needed
let clientCertBroker; // TLS, client certificate of brokerCa required
let fleet;

test.before(async () => {
  await new Promise((resolve) => helper.startServer(resolve));
  const certs = path.join(tmp, 'certs');
  brokerCa = tlsAuthority(certs, 'broker-ca');
  otherCa = tlsAuthority(certs, 'other-ca');
  const server = brokerCa.issue('broker', { san: 'IP:127.0.0.1,DNS:localhost' });
  clientCert = brokerCa.issue('node-red-client', { client: true });
  const listener = { caFile: brokerCa.certFile, certFile: server.certFile, keyFile: server.keyFile };
  tlsBroker = await startMosquitto(path.join(tmp, 'mosquitto-tls'), { tls: listener });
  clientCertBroker = await startMosquitto(path.join(tmp, 'mosquitto-mtls'), { tls: { ...listener, requireCertificate: true } });
  const raw = async () => ({ rawKey: await pqc.randomBytes(32) });
  // A pair of devices per broker, so that no test starts with session state
  // left by another.
  fleet = await provision(path.join(tmp, 'fleet'), {
    'sensor-1': { publish: 'plant/+/telemetry', key: await raw() },
    'scada-1': { subscribe: 'plant/#', key: await raw() },
    'sensor-2': { publish: 'plant/+/telemetry', key: await raw() },
    'scada-2': { subscribe: 'plant/#', key: await raw() },
  });
  await fleet.ca.close();
});

test.afterEach(async () => {
  await helper.unload();
});

test.after(async () => {
  await new Promise((resolve) => helper.stopServer(resolve));
  for (const b of [tlsBroker, clientCertBroker]) if (b) await b.stop();
  await pqc.shutdown();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function statusOf(node) {
  const seen = { last: null };
  node.on('call:status', (call) => { seen.last = call.args[0]; });
  return seen;
}

// Sends one reading out and returns what the in node delivers.
async function roundTrip(payload) {
  const received = sink(helper.getNode('received'));
  await helper.getNode('brokerScada').client();
  await helper.getNode('brokerSensor').client();
  helper.getNode('out').receive({ topic: TOPIC, payload });
  return received.next();
}

test('pqc-broker with a TLS CA file: mqtt out -> TLS Mosquitto -> mqtt in; paths exported, password not', async () => {
  assert.match(tlsBroker.url, /^ssl:\/\//);
  const { flow, creds } = pubSubFlow(fleet, { url: tlsBroker.url, tlsCaFile: brokerCa.certFile });
  creds.brokerScada = { username: 'scada', password: 'tls-broker-secret-7' };
  await helper.load(NODES, flow, creds);
  const inStatus = statusOf(helper.getNode('in'));

  const m = await roundTrip({ sensor: 'boiler-3', temperature: 71.5 });
  assert.deepEqual(m.payload, { sensor: 'boiler-3', temperature: 71.5 });
  assert.equal(m.sender, 'sensor-1');
  assert.equal(m.topic, TOPIC);
  await until(() => inStatus.last && /^connected/.test(inStatus.last.text),
    () => `the in node to show connected; it shows ${JSON.stringify(inStatus.last)}`);

  // The TLS settings are ordinary node properties: the CA path travels with
  // the flow, the broker password stays a credential.
  const deployed = flow.map((n) => (creds[n.id] ? { ...n, credentials: creds[n.id] } : n));
  await helper.setFlows(deployed, 'full');
  const exported = JSON.stringify(helper._redNodes.getFlows());
  assert.ok(exported.includes(JSON.stringify(brokerCa.certFile)), 'the TLS CA path is not in the flow');
  assert.ok(!exported.includes('tls-broker-secret-7'), 'the broker password is in the exported flow');
});

test('pqc-broker with a client certificate and key, for a broker that requires one', async () => {
  const { flow, creds } = pubSubFlow(fleet, {
    url: clientCertBroker.url, tlsCaFile: brokerCa.certFile,
    tlsCertFile: clientCert.certFile, tlsKeyFile: clientCert.keyFile,
    // The certificate carries 127.0.0.1 and localhost: either name verifies.
    tlsServerName: 'localhost',
  }, 'sensor-2', 'scada-2');
  await helper.load(NODES, flow, creds);
  const m = await roundTrip('temp=70.4');
  assert.equal(m.payload, 'temp=70.4');
  assert.equal(m.sender, 'sensor-2');
});

// A broker config that must not connect: the in node turns red with the
// reason, and the sensor's publish is refused rather than sent in clear.
async function refused(settings, reason) {
  const { flow, creds } = pubSubFlow(fleet, settings);
  await helper.load(NODES, flow, creds);
  const inStatus = statusOf(helper.getNode('in'));
  const received = sink(helper.getNode('received'));
  const err = await helper.getNode('brokerScada').client().then(() => null, (e) => e);
  assert.ok(err instanceof pqc.PqcError, `the broker node connected: ${err}`);
  assert.match(`${err.code}: ${err.detail}`, reason);
  await until(() => inStatus.last && inStatus.last.fill === 'red',
    () => `a red status on the in node; it shows ${JSON.stringify(inStatus.last)}`);
  const out = helper.getNode('out');
  const failed = new Promise((resolve) => out.on('call:error', resolve));
  out.receive({ topic: TOPIC, payload: 'must not arrive' });
  await failed;
  assert.equal(received.items.length, 0);
}

test('pqc-broker trusting another CA does not connect; nothing is delivered', async () => {
  await refused({ url: tlsBroker.url, tlsCaFile: otherCa.certFile }, /^PQC_ERR_IO: .*certificate signed by unknown authority/);
});

test('pqc-broker with TLS settings on a tcp:// URL is refused', async () => {
  await refused({ url: `tcp://127.0.0.1:${tlsBroker.port}`, tlsCaFile: brokerCa.certFile },
    /^PQC_ERR_INVALID_ARGUMENT: tls_ options with a tcp:\/\/ broker URL/);
});
