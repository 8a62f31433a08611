'use strict';
// Test fixtures: a real Mosquitto on a free loopback port, started with a
// generated configuration, and a fleet provisioned through the library's
// own CA functions (as the Python tests do): a CA, devices with topic
// grants, policy and revocation list applied.

const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const pqc = require('../pqc');

function findMosquitto() {
  if (process.env.MOSQUITTO) return process.env.MOSQUITTO;
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/usr/local/sbin'])) {
    const p = path.join(dir, 'mosquitto');
    if (dir && fs.existsSync(p)) return p;
  }
  return null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// Starts mosquitto in dir; resolves once it accepts connections. With
// tls: { caFile, certFile, keyFile, requireCertificate } the listener is
// TLS only and the URL is ssl://; requireCertificate demands a client
// certificate issued by caFile.
async function startMosquitto(dir, { tls } = {}) {
  const bin = findMosquitto();
  if (!bin) throw new Error('mosquitto not found (scripts/deps.sh installs it; or set MOSQUITTO)');
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const log = path.join(dir, 'mosquitto.log');
  let conf = `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n` +
    `log_dest file ${log}\nlog_type error\nlog_type warning\nlog_type notice\n`;
  if (tls) {
    conf += `cafile ${tls.caFile}\ncertfile ${tls.certFile}\nkeyfile ${tls.keyFile}\n` +
      `require_certificate ${tls.requireCertificate ? 'true' : 'false'}\nuse_identity_as_username false\n`;
  }
  // As root mosquitto would switch to a user that cannot write dir.
  if (process.getuid && process.getuid() === 0) conf += 'user root\n';
  const confPath = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(confPath, conf, { mode: 0o600 });
  const proc = spawn(bin, ['-c', confPath], { stdio: 'ignore' });
  let exited = null;
  proc.once('exit', (code) => { exited = code; });
  for (let i = 0; i < 200; i++) {
    if (exited !== null) throw new Error(`mosquitto exited with ${exited}: ${readLog(log)}`);
    if (await canConnect(port)) {
      return {
        url: `${tls ? 'ssl' : 'tcp'}://127.0.0.1:${port}`,
        port,
        stop: () => new Promise((resolve) => {
          if (exited !== null) return resolve();
          proc.once('exit', () => resolve());
          proc.kill('SIGTERM');
        }),
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`mosquitto not accepting on ${port}: ${readLog(log)}`);
}

function readLog(p) {
  try { return fs.readFileSync(p, 'utf8').slice(-2000); } catch { return '(no log)'; }
}

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

// A certificate authority for TLS tests, made with the openssl command in
// dir: name.pem (certificate) and name.key. Short-lived: the files are
// thrown away with the test's temporary directory.
function tlsAuthority(dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const ca = { dir, name, certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
  // A certificate issued by this CA: for a server (san: 'IP:127.0.0.1,DNS:localhost')
  // or, without san, for a client. Returns { certFile, keyFile }.
  ca.issue = (leaf, { san, client = false } = {}) => {
    const ext = path.join(dir, `${leaf}.ext`);
    fs.writeFileSync(ext, (san ? `subjectAltName=${san}\n` : '') +
      `extendedKeyUsage=${client ? 'clientAuth' : 'serverAuth'}\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`], dir);
    openssl(['x509', '-req', '-in', `${leaf}.csr`, '-CA', ca.certFile, '-CAkey', ca.keyFile,
      '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', '2', '-extfile', ext, '-out', `${leaf}.pem`], dir);
    return { certFile: path.join(dir, `${leaf}.pem`), keyFile: path.join(dir, `${leaf}.key`) };
  };
  return ca;
}

// A CA and devices in dir. devices: { name: { publish, subscribe, key } }
// where key is { rawKey } or { passphrase }. Returns the anchor, policy and
// revocation list; every keystore is closed again (a keystore is locked by
// the process that has it open).
async function provision(dir, devices) {
  fs.mkdirSync(dir, { recursive: true });
  const ca = await pqc.CertificateAuthority.create(path.join(dir, 'ca.store'), 'plant-root',
    { rawKey: await pqc.randomBytes(32) });
  const anchor = await ca.certificate();
  const policy = await ca.signPolicy({ ttlSeconds: 3600 });
  const revocation = await ca.revoke([]);
  const out = { dir, anchor, policy, revocation, ca, devices: {} };
  for (const [name, d] of Object.entries(devices)) {
    const store = path.join(dir, `${name}.store`);
    const id = await pqc.Identity.create(store, name, d.key);
    await ca.allowTopics(name, await id.factoryPublicKey(), { publish: d.publish, subscribe: d.subscribe });
    await id.install(await ca.enroll(await id.joinRequest()), { anchor });
    await id.applyPolicy(policy);
    await id.applyRevocation(revocation);
    const chain = await id.chain();
    const keyId = await id.keyId();
    await id.close();
    out.devices[name] = { store, chain, keyId, key: d.key };
  }
  return out;
}

// gcc and the header, for the cross-language test; null if unavailable.
function compileC(src, out, repo) {
  if (spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status !== 0) return 'gcc is not installed';
  const lib = path.join(repo, 'build', 'lib');
  const r = spawnSync('gcc', ['-std=c99', '-Wall', '-Wextra', '-Werror', `-I${path.join(repo, 'include')}`,
    '-o', out, src, path.join(lib, 'libpqc_iiot.so'), `-Wl,-rpath,${lib}`, '-lpthread'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gcc ${src}: ${r.stderr}`);
  return null;
}

// Retries publish while no reader has announced keys (PQC_ERR_STATE).
async function publishWhenReady(client, topic, payload) {
  for (let i = 0; ; i++) {
    try {
      return await client.publish(topic, payload);
    } catch (err) {
      if (err.code !== 'PQC_ERR_STATE' || i >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// Waits until cond() is true, checking every 50 ms; fails with what (a
// string, or a function giving one) after at most ms. For "until the
// library counted the frames we injected", not for timing anything.
async function until(cond, what, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`gave up waiting: ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// sensor-1 (publishes plant/+/telemetry) and scada-1 (reads plant/#)
// provisioned with raw keys, their identities opened into `open` (by
// device id): the pair the MQTT tests exchange telemetry between.
async function openTelemetryPair(dir, open) {
  const raw = async () => ({ rawKey: await pqc.randomBytes(32) });
  const fleet = await provision(dir, {
    'sensor-1': { publish: 'plant/+/telemetry', key: await raw() },
    'scada-1': { subscribe: 'plant/#', key: await raw() },
  });
  for (const [name, d] of Object.entries(fleet.devices)) {
    open[name] = await pqc.Identity.open(d.store, d.key);
  }
  return fleet;
}

// A queue of what an emitter emits as event: items holds what arrived
// before anyone waited, next() resolves with the next one.
function queueOf(emitter, event) {
  const items = [];
  const waiters = [];
  emitter.on(event, (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else items.push(m);
  });
  return {
    items,
    next: () => (items.length ? Promise.resolve(items.shift()) : new Promise((r) => waiters.push(r))),
  };
}

module.exports = {
  startMosquitto, tlsAuthority, provision, openTelemetryPair, compileC, publishWhenReady, until, findMosquitto, queueOf,
};
