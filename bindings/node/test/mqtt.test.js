'use strict';
// The plain Node.js API over a real Mosquitto: MqttClient (events and async
// iteration, fed by pqc_mqtt_recv on a thread of its own), signed envelopes
// and sealed messages, each with the refusals beside the successes.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const mqtt = require('mqtt');

const pqc = require('../pqc');
const { startMosquitto, openTelemetryPair, provision, publishWhenReady, queueOf, until } = require('./fleet');

const TOPIC = 'plant/line1/telemetry';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pqc-node-mqtt-'));
let broker;
let fleet;
const open = {};

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof pqc.PqcError, `expected PqcError, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

test.before(async () => {
  broker = await startMosquitto(path.join(tmp, 'mosquitto'));
  fleet = await openTelemetryPair(path.join(tmp, 'fleet'), open);
});

test.after(async () => {
  for (const id of Object.values(open)) await id.close();
  if (fleet) await fleet.ca.close();
  if (broker) await broker.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// Collects a client's messages; next() resolves with the next one.
function inbox(client) {
  return queueOf(client, 'message');
}

test('MQTT through Mosquitto: verified sender, events and async iteration, tampered and replayed frames dropped', async () => {
  const pub = await pqc.MqttClient.create(open['sensor-1'], broker.url);
  const sub = await pqc.MqttClient.create(open['scada-1'], broker.url);
  await rejectsWith(pub.publish(TOPIC, 'before connect'), 'PQC_ERR_STATE');
  await sub.subscribe('plant/#');
  const box = inbox(sub);
  await sub.connect();
  await pub.connect();

  // A plain MQTT client sees only frames, and re-injects them altered.
  const spy = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
  const frames = [];
  spy.on('message', (topic, payload) => { if (topic === TOPIC) frames.push(Buffer.from(payload)); });
  await spy.subscribeAsync(TOPIC);

  const reading = Buffer.from(JSON.stringify({ temperature: 71.5 }));
  await publishWhenReady(pub, TOPIC, reading);
  const m = await box.next();
  assert.deepEqual(m, { topic: TOPIC, sender: 'sensor-1', payload: reading });
  await until(() => frames.length >= 1, 'the spy to see the frame');
  assert.equal(frames[0].indexOf(reading), -1, 'the broker carries the plaintext');

  const before = await sub.stats();
  const tampered = Buffer.from(frames[0]);
  tampered[tampered.length - 20] ^= 1;
  const truncated = frames[0].subarray(0, frames[0].length - 1);
  for (const bad of [tampered, frames[0], truncated, Buffer.from('not a frame')]) {
    await spy.publishAsync(TOPIC, bad, { qos: 1 });
  }
  // A frame re-routed to another topic the reader subscribes to.
  await spy.publishAsync('plant/line2/telemetry', frames[0], { qos: 1 });
  await until(async () => {
    const s = await sub.stats();
    return s.dropped_unprotect + s.dropped_bad_topic - before.dropped_unprotect - before.dropped_bad_topic >= 5;
  }, 'the five forged frames to be counted');
  assert.equal(box.items.length, 0, `a forged frame was delivered: ${JSON.stringify(box.items)}`);

  // The iterator form sees the next genuine message.
  const it = sub[Symbol.asyncIterator]();
  await pub.publish('plant/line2/telemetry', 'temp=22.0');
  const { value } = await it.next();
  assert.deepEqual(value, { topic: 'plant/line2/telemetry', sender: 'sensor-1', payload: Buffer.from('temp=22.0') });
  // The box listener got the same message; nothing else came.
  assert.equal((await box.next()).payload.toString(), 'temp=22.0');
  assert.equal(box.items.length, 0);

  const st = await sub.stats();
  assert.equal(st.delivered, 2);
  assert.equal((await pub.stats()).published, 2);
  await spy.endAsync();

  const ended = it.next();
  await sub.close();
  assert.deepEqual(await ended, { value: undefined, done: true }, 'the iterator ends when the client closes');
  assert.equal(sub.closed, true);
  await rejectsWith(sub.stats(), 'PQC_ERR_CLOSED');
  await pub.close();
  await rejectsWith(pub.publish(TOPIC, 'x'), 'PQC_ERR_CLOSED');
});

test('MQTT refusals', async () => {
  await assert.rejects(pqc.MqttClient.create(open['sensor-1'], broker.url, { mode: 'fast' }), TypeError);
  await assert.rejects(pqc.MqttClient.create(open['sensor-1'], broker.url, { qos: 2 }), RangeError);
  await assert.rejects(pqc.MqttClient.create({}, broker.url), TypeError);
  await rejectsWith(pqc.MqttClient.create(open['sensor-1'], 'udp://127.0.0.1:1'), 'PQC_ERR_INVALID_ARGUMENT');
  const c = await pqc.MqttClient.create(open['sensor-1'], broker.url, { mode: 'sealed', qos: 0 });
  await rejectsWith(c.subscribe('plant/#/x'), 'PQC_ERR_INVALID_ARGUMENT');
  await rejectsWith(c.subscribe('pqc/v1/keys/+'), 'PQC_ERR_INVALID_ARGUMENT');
  await c.connect();
  await rejectsWith(c.publish('pqc/v1/keys/sensor-1', 'x'), 'PQC_ERR_INVALID_ARGUMENT');
  await rejectsWith(c.publish('plant/+/telemetry', 'x'), 'PQC_ERR_INVALID_ARGUMENT');
  await rejectsWith(c.publish(TOPIC, Buffer.alloc(pqc.MQTT_MAX_PAYLOAD + 1)), 'PQC_ERR_INVALID_ARGUMENT');
  await c.close();
  const down = await pqc.MqttClient.create(open['sensor-1'], 'tcp://127.0.0.1:1');
  await rejectsWith(down.connect({ timeoutMs: 2000 }), 'PQC_ERR_IO');
  await down.close();
});

test('embedded broker', async () => {
  const b = await pqc.MqttBroker.create();
  assert.match(b.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const pub = await pqc.MqttClient.create(open['sensor-1'], b.url);
  const sub = await pqc.MqttClient.create(open['scada-1'], b.url);
  await sub.subscribe(TOPIC);
  const box = inbox(sub);
  await sub.connect();
  await pub.connect();
  await publishWhenReady(pub, TOPIC, 'x');
  assert.equal((await box.next()).sender, 'sensor-1');
  await pub.close();
  await sub.close();
  await b.close();
});

test('signed envelopes: any holder of the anchor verifies the device; refusals', async () => {
  const sensor = open['sensor-1'];
  const trust = await pqc.Trust.create(fleet.anchor);
  await rejectsWith(trust.verifySigned(await sensor.sign('c', 'x'), 'c'), 'PQC_ERR_POLICY');
  await trust.applyPolicy(fleet.policy);
  await trust.applyRevocation(fleet.revocation);

  const env = await sensor.sign('plant/boiler-3', '{"t":71.5}');
  const got = await trust.verifySigned(env, 'plant/boiler-3');
  assert.equal(got.sender, 'sensor-1');
  assert.equal(got.content.toString(), '{"t":71.5}');
  assert.ok(got.signedAt instanceof Date && Math.abs(got.signedAt - Date.now()) < 3600e3);
  assert.deepEqual(await open['scada-1'].verifySigned(env, 'plant/boiler-3'), got);

  const flipped = Buffer.from(env);
  flipped[flipped.indexOf('{"t"') + 2] ^= 1;
  await rejectsWith(trust.verifySigned(flipped, 'plant/boiler-3'), 'PQC_ERR_VERIFY');
  await rejectsWith(trust.verifySigned(env, 'plant/boiler-4'), 'PQC_ERR_UNTRUSTED');
  await rejectsWith(trust.verifySigned(env.subarray(0, env.length >> 1), 'plant/boiler-3'), 'PQC_ERR_INVALID_ARGUMENT');
  await rejectsWith(sensor.sign('c', Buffer.alloc(pqc.SIGNED_MAX_CONTENT + 1)), 'PQC_ERR_INVALID_ARGUMENT');

  await trust.applyRevocation(await fleet.ca.revoke([fleet.devices['sensor-1'].keyId]));
  await rejectsWith(trust.verifySigned(env, 'plant/boiler-3'), 'PQC_ERR_REVOKED');
  await trust.close();
});

test('sealed messages: opened once by the recipient only', async () => {
  const m1 = await pqc.SessionManager.create(open['sensor-1']);
  const m2 = await pqc.SessionManager.create(open['scada-1']);
  // Peers are known from verified chains or announcements (the identity's
  // trust state is shared with its MQTT clients), never by name alone.
  await rejectsWith(m1.seal('historian-9', 'ctx', 'x'), 'PQC_ERR_UNTRUSTED');
  assert.equal(await m1.addPeer(fleet.devices['scada-1'].chain), 'scada-1');
  assert.equal(await m2.addPeer(fleet.devices['sensor-1'].chain), 'sensor-1');
  const frame = await m1.seal('scada-1', 'ctx', 'valve=open');
  assert.equal(frame.indexOf('valve=open'), -1);
  assert.deepEqual(await m2.open(frame, 'ctx'), { sender: 'sensor-1', plaintext: Buffer.from('valve=open') });
  await rejectsWith(m2.open(frame, 'ctx'), 'PQC_ERR_REPLAY');
  const again = await m1.seal('scada-1', 'ctx', 'valve=closed');
  // The context is bound into the frame's signature and encryption.
  await rejectsWith(m2.open(again, 'other'), 'PQC_ERR_VERIFY');
  const flipped = Buffer.from(again);
  flipped[flipped.length - 3] ^= 1;
  await rejectsWith(m2.open(flipped, 'ctx'), 'PQC_ERR_VERIFY');
  await rejectsWith(m1.open(again, 'ctx'), 'PQC_ERR_UNTRUSTED');
  await m1.close();
  await m2.close();
});

// Clients restarted twice on the same keystores lose no message: a restored
// sender skips past what a restarted peer reserved (core/session skipRestart).
test('restarted clients on the same keystores lose no message', async () => {
  const dir = path.join(tmp, 'restarts');
  const f = await provision(dir, {
    'sensor-9': { publish: 'plant/+/telemetry', key: { rawKey: await pqc.randomBytes(32) } },
    'scada-9': { subscribe: 'plant/#', key: { rawKey: await pqc.randomBytes(32) } },
  });
  await f.ca.close();
  for (let round = 1; round <= 3; round++) {
    const s = await pqc.Identity.open(f.devices['sensor-9'].store, f.devices['sensor-9'].key);
    const r = await pqc.Identity.open(f.devices['scada-9'].store, f.devices['scada-9'].key);
    const sub = await pqc.MqttClient.create(r, broker.url);
    const pub = await pqc.MqttClient.create(s, broker.url);
    await sub.subscribe('plant/#');
    const box = inbox(sub);
    await sub.connect();
    await pub.connect();
    try {
      for (let i = 1; i <= 3; i++) {
        await publishWhenReady(pub, TOPIC, `round ${round} message ${i}`);
        const m = await Promise.race([box.next(), until(async () => (await sub.stats()).dropped_unprotect > 0, 'a drop').then(() => null)]);
        assert.ok(m, `round ${round} message ${i} was dropped: ${JSON.stringify(await sub.stats())}`);
        assert.equal(m.payload.toString(), `round ${round} message ${i}`);
      }
    } finally {
      await pub.close();
      await sub.close();
      await s.close();
      await r.close();
    }
  }
});
