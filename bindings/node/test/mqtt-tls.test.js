'use strict';
// MqttClient over TLS to a real Mosquitto whose listener speaks only TLS,
// with certificates made by the openssl command for this run: the broker is
// verified against tlsCaFile, a broker certificate from another CA or for
// another name fails the connect, a broker demanding client certificates
// lets in only a client presenting one of its CA, and TLS options the
// library cannot honour are refused when the client is created.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const mqtt = require('mqtt');

const pqc = require('../pqc');
const { startMosquitto, tlsAuthority, openTelemetryPair, publishWhenReady } = require('./fleet');

const TOPIC = 'plant/line1/telemetry';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-mqtt-tls-'));
let brokerCa; // issued every broker and client certificate below
let otherCa; // a CA the brokers do not use
let tlsBroker; // TLS, no client certificate needed
let clientCertBroker; // TLS, client certificate of brokerCa required
let namedBroker; // TLS, certificate for broker.plant.test only
let clientCert;
let strangerCert; // a client certificate of otherCa
let fleet;
const open = {};

async function rejectsWith(promise, code) {
  let caught;
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof pqc.PqcError, `expected PqcError, got ${err}`);
    assert.equal(err.code, code, `${err.code}: ${err.detail}`);
    caught = err;
    return true;
  });
  return caught;
}

// A connect that must fail: the library reports a broker that cannot be
// verified (or that refuses our certificate) as an I/O failure of connect.
async function connectFails(client, why) {
  const err = await rejectsWith(client.connect({ timeoutMs: 5000 }), 'PQC_ERR_IO');
  if (why) assert.match(err.detail, why);
  return err;
}

test.before(async () => {
  const certs = path.join(tmp, 'certs');
  brokerCa = tlsAuthority(certs, 'broker-ca');
  otherCa = tlsAuthority(certs, 'other-ca');
  const server = brokerCa.issue('broker', { san: 'IP:127.0.0.1,DNS:localhost' });
  const named = brokerCa.issue('named-broker', { san: 'DNS:broker.plant.test' });
  clientCert = brokerCa.issue('sensor-client', { client: true });
  strangerCert = otherCa.issue('stranger-client', { client: true });
  const listener = (cert, requireCertificate = false) =>
    ({ caFile: brokerCa.certFile, certFile: cert.certFile, keyFile: cert.keyFile, requireCertificate });
  tlsBroker = await startMosquitto(path.join(tmp, 'mosquitto-tls'), { tls: listener(server) });
  clientCertBroker = await startMosquitto(path.join(tmp, 'mosquitto-mtls'), { tls: listener(server, true) });
  namedBroker = await startMosquitto(path.join(tmp, 'mosquitto-named'), { tls: listener(named) });

  fleet = await openTelemetryPair(path.join(tmp, 'fleet'), open);
});

test.after(async () => {
  for (const id of Object.values(open)) await id.close();
  if (fleet) await fleet.ca.close();
  for (const b of [tlsBroker, clientCertBroker, namedBroker]) if (b) await b.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('ssl:// with tlsCaFile: a protected message goes through a TLS-only broker; the broker sees only frames', async () => {
  assert.match(tlsBroker.url, /^ssl:\/\/127\.0\.0\.1:\d+$/);
  const tls = { tlsCaFile: brokerCa.certFile };
  const pub = await pqc.MqttClient.create(open['sensor-1'], tlsBroker.url, tls);
  const sub = await pqc.MqttClient.create(open['scada-1'], tlsBroker.url, tls);
  try {
    await sub.subscribe('plant/#');
    const next = new Promise((resolve) => sub.once('message', resolve));
    await sub.connect();
    await pub.connect();

    // A plain MQTT client on the same TLS listener sees what the broker sees.
    const spy = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsBroker.port}`, { ca: fs.readFileSync(brokerCa.certFile) });
    const frames = [];
    spy.on('message', (topic, payload) => { if (topic === TOPIC) frames.push(Buffer.from(payload)); });
    await spy.subscribeAsync(TOPIC);

    const reading = Buffer.from(JSON.stringify({ sensor: 'boiler-3', temperature: 71.5 }));
    await publishWhenReady(pub, TOPIC, reading);
    assert.deepEqual(await next, { topic: TOPIC, sender: 'sensor-1', payload: reading });
    await spy.endAsync();
    assert.ok(frames.length >= 1, 'the spy saw no frame');
    assert.equal(frames[0].indexOf('boiler-3'), -1, 'the broker carries the plaintext');
  } finally {
    await pub.close();
    await sub.close();
  }

  // The listener speaks only TLS: the same port as tcp:// does not connect,
  // so the success above was over TLS.
  const plain = await pqc.MqttClient.create(open['sensor-1'], `tcp://127.0.0.1:${tlsBroker.port}`);
  await connectFails(plain);
  await plain.close();
});

test('a broker certificate the client does not trust fails the connect', async () => {
  // Trusting another CA.
  const other = await pqc.MqttClient.create(open['sensor-1'], tlsBroker.url, { tlsCaFile: otherCa.certFile });
  await connectFails(other, /certificate/);
  await other.close();
  // Trusting the system's roots, which did not issue the test CA.
  const system = await pqc.MqttClient.create(open['sensor-1'], tlsBroker.url);
  await connectFails(system, /certificate/);
  await system.close();
});

test('tlsServerName: the name the broker certificate must carry when the URL has another host', async () => {
  // The certificate names broker.plant.test, not 127.0.0.1.
  const byUrl = await pqc.MqttClient.create(open['sensor-1'], namedBroker.url, { tlsCaFile: brokerCa.certFile });
  await connectFails(byUrl, /127\.0\.0\.1/);
  await byUrl.close();
  const wrong = await pqc.MqttClient.create(open['sensor-1'], namedBroker.url,
    { tlsCaFile: brokerCa.certFile, tlsServerName: 'other.plant.test' });
  await connectFails(wrong, /other\.plant\.test/);
  await wrong.close();
  const named = await pqc.MqttClient.create(open['sensor-1'], namedBroker.url,
    { tlsCaFile: brokerCa.certFile, tlsServerName: 'broker.plant.test' });
  await named.connect({ timeoutMs: 5000 });
  await named.close();
});

test('a broker requiring client certificates admits only a client certificate of its CA', async () => {
  const tls = { tlsCaFile: brokerCa.certFile };
  const anonymous = await pqc.MqttClient.create(open['sensor-1'], clientCertBroker.url, tls);
  await connectFails(anonymous);
  await anonymous.close();
  const stranger = await pqc.MqttClient.create(open['sensor-1'], clientCertBroker.url,
    { ...tls, tlsCertFile: strangerCert.certFile, tlsKeyFile: strangerCert.keyFile });
  await connectFails(stranger);
  await stranger.close();

  const pub = await pqc.MqttClient.create(open['sensor-1'], clientCertBroker.url,
    { ...tls, tlsCertFile: clientCert.certFile, tlsKeyFile: clientCert.keyFile });
  const sub = await pqc.MqttClient.create(open['scada-1'], clientCertBroker.url,
    { ...tls, tlsCertFile: clientCert.certFile, tlsKeyFile: clientCert.keyFile });
  try {
    await sub.subscribe('plant/#');
    const next = new Promise((resolve) => sub.once('message', resolve));
    await sub.connect({ timeoutMs: 5000 });
    await pub.connect({ timeoutMs: 5000 });
    await publishWhenReady(pub, TOPIC, 'temp=70.2');
    const m = await next;
    assert.equal(m.sender, 'sensor-1');
    assert.equal(m.payload.toString(), 'temp=70.2');
  } finally {
    await pub.close();
    await sub.close();
  }
});

test('TLS options the library cannot honour are refused when the client is created', async () => {
  const id = open['sensor-1'];
  const ca = brokerCa.certFile;
  // Any TLS option with a plain URL: the connection would not be encrypted.
  for (const url of [`tcp://127.0.0.1:${tlsBroker.port}`, `mqtt://127.0.0.1:${tlsBroker.port}`]) {
    for (const opts of [
      { tlsCaFile: ca },
      { tlsCertFile: clientCert.certFile, tlsKeyFile: clientCert.keyFile },
      { tlsServerName: 'localhost' },
    ]) {
      const err = await rejectsWith(pqc.MqttClient.create(id, url, opts), 'PQC_ERR_INVALID_ARGUMENT');
      assert.match(err.detail, /tls/i, `${url} ${JSON.stringify(opts)}`);
    }
  }
  // A certificate without its key, or a key without its certificate.
  await rejectsWith(pqc.MqttClient.create(id, tlsBroker.url, { tlsCaFile: ca, tlsCertFile: clientCert.certFile }),
    'PQC_ERR_INVALID_ARGUMENT');
  await rejectsWith(pqc.MqttClient.create(id, tlsBroker.url, { tlsCaFile: ca, tlsKeyFile: clientCert.keyFile }),
    'PQC_ERR_INVALID_ARGUMENT');
  // A certificate with somebody else's key.
  await rejectsWith(pqc.MqttClient.create(id, tlsBroker.url,
    { tlsCertFile: clientCert.certFile, tlsKeyFile: strangerCert.keyFile }), 'PQC_ERR_INVALID_ARGUMENT');
  // A CA file holding no PEM certificate: plain text, or a PEM private key.
  const noCert = path.join(tmp, 'not-a-ca.pem');
  fs.writeFileSync(noCert, 'just some text, not a certificate\n');
  await rejectsWith(pqc.MqttClient.create(id, tlsBroker.url, { tlsCaFile: noCert }), 'PQC_ERR_INVALID_ARGUMENT');
  await rejectsWith(pqc.MqttClient.create(id, tlsBroker.url, { tlsCaFile: clientCert.keyFile }), 'PQC_ERR_INVALID_ARGUMENT');
  // Files that cannot be read are reported at creation, not at connect.
  const missing = path.join(tmp, 'missing.pem');
  for (const opts of [{ tlsCaFile: missing }, { tlsCertFile: missing, tlsKeyFile: clientCert.keyFile }]) {
    const err = await rejectsWith(pqc.MqttClient.create(id, tlsBroker.url, opts), 'PQC_ERR_IO');
    assert.ok(err.detail.includes(missing), err.detail);
  }
  // Checked in Node before the library sees them.
  await assert.rejects(pqc.MqttClient.create(id, tlsBroker.url, { tlsCaFile: 42 }), TypeError);
  await rejectsWith(pqc.MqttClient.create(id, tlsBroker.url, { tlsCaFile: `${ca}\0.txt` }), 'PQC_ERR_INVALID_ARGUMENT');
});
