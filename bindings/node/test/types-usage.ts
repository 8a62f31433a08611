// Compiled (not run) by types.test.js: the declarations in pqc.d.ts must
// describe the API as the tests and README use it.
import * as pqc from '../pqc';
import { Kem, Signature, Identity, Trust, CertificateAuthority, PqcError, SessionManager, MqttClient, MqttBroker, CoapServer, CoapClient, CoapCode } from '../pqc';

async function main(): Promise<void> {
  const v: string = await pqc.version();
  const info: pqc.LibraryInfo = await pqc.libraryInfo();
  const kem: Kem = await Kem.create('ML-KEM-768');
  const { publicKey, secretKey } = await kem.keypair();
  const { ciphertext, sharedSecret } = await kem.encapsulate(publicKey);
  const ss: Buffer = await kem.decapsulate(secretKey, ciphertext);
  const n: number = kem.sizes.ciphertext;
  const algs: string[] = await Kem.algorithms();
  await kem.close();

  const sig = await Signature.create();
  const kp = await sig.keypair(new Uint8Array(sig.sizes.seed));
  const s: Buffer = await sig.sign(kp.secretKey, 'reading');
  const ok: boolean = await sig.verify(kp.publicKey, Buffer.from('reading'), s);
  pqc.wipe(kp.secretKey);

  const ca = await CertificateAuthority.create('ca.store', 'root', { rawKey: await pqc.randomBytes(32) });
  const dev = await Identity.create('dev.store', 'sensor-1', { passphrase: 'pw', kemAlgorithms: ['X25519-ML-KEM-768'] });
  await ca.allow('sensor-1', await dev.factoryPublicKey(), ['sensor']);
  await dev.install(await ca.enroll(await dev.joinRequest()), { anchor: await ca.certificate() });
  const trust = await Trust.create(await ca.certificate());
  const id: string = await trust.verifyChain(await dev.chain(), { at: new Date() });
  await trust.applyPolicy(await ca.signPolicy({ ttlSeconds: 3600 }));
  await trust.applyRevocation(await ca.revoke([await dev.keyId()]));
  await trust.checkPolicy();
  const ann: Buffer = await dev.announcement('plant/a');
  const opened = await Identity.open('dev.store', { passphrase: 'pw' });
  await opened.publicKey('X25519-ML-KEM-768');

  const env: Buffer = await dev.sign('plant/a', 'reading');
  const sm: pqc.SignedMessage = await trust.verifySigned(env, 'plant/a');
  const when: Date = sm.signedAt;
  const own: pqc.SignedMessage = await opened.verifySigned(env, 'plant/a');
  await ca.allowTopics('sensor-2', await dev.factoryPublicKey(), { publish: 'plant/+/t', subscribe: ['cmd/#'] });

  const mgr: SessionManager = await SessionManager.create(opened, { resume: false });
  const peer: string = await mgr.addPeer(await dev.chain());
  const frame: Buffer = await mgr.seal(peer, 'ctx', Buffer.from('x'));
  const { sender, plaintext } = await mgr.open(frame, 'ctx');
  await mgr.close();

  const broker: MqttBroker = await MqttBroker.create();
  const client: MqttClient = await MqttClient.create(opened, broker.url, { mode: 'sealed', qos: 0, recipients: ['scada-1'] });
  const tls: pqc.MqttOptions = { tlsCaFile: 'ca.pem', tlsCertFile: 'c.pem', tlsKeyFile: 'c.key', tlsServerName: 'broker.plant' };
  void tls;
  client.on('message', (m: pqc.MqttMessage) => { const p: Buffer = m.payload; void p; });
  client.on('error', (e: Error) => { void e; });
  await client.subscribe('plant/#');
  await client.connect({ timeoutMs: 5000 });
  await client.publish('plant/a/t', 'x', { timeoutMs: 1000 });
  const st: pqc.MqttStats = await client.stats();
  const rejected: number = st.dropped_unprotect;
  for await (const m of client) {
    const who: string = m.sender;
    void who;
    break;
  }
  await client.close();
  await broker.close();
  const srv: CoapServer = await CoapServer.create(opened, { mode: 'oscore', acl: ['hmi-1 GET,PUT /setpoint', 'role:viewer GET /#'], answerTimeoutMs: 2000 });
  await srv.addPeer(await dev.chain());
  await srv.handle('/setpoint', async (req: pqc.CoapRequest) => {
    const who: string = req.sender;
    const body: Buffer = req.payload;
    const q: string = req.query;
    void [who, body, q];
    return { code: CoapCode.CHANGED, contentFormat: 0, payload: 'ok' };
  });
  await srv.handle('/t', () => '21.5');
  srv.on('error', (e: Error) => { void e; });
  const bound: string = await srv.listen('127.0.0.1:0');
  const cl: CoapClient = await CoapClient.create(dev, bound, { mode: 'oscore', peer: 'plc-1', timeoutMs: 5000 });
  await cl.addPeer(await opened.chain());
  const resp: pqc.CoapResponse = await cl.request('PUT', '/setpoint', Buffer.from('42'), { contentFormat: 0, timeoutMs: 1000 });
  const code: number = resp.code;
  const codeText: string = pqc.coapCodeText(code);
  const fromWhom: string = resp.sender;
  const got: pqc.CoapResponse = await cl.get('/t');
  const obs: pqc.CoapObservation = await cl.observe('/t');
  obs.on('notification', (n: pqc.CoapResponse) => { void n.payload; });
  for await (const n of obs) {
    void n.codeText;
    break;
  }
  const observers: number = await srv.notify('/t', '22.0', { contentFormat: 0 });
  await obs.cancel();
  await cl.close();
  await srv.close();
  const plainSrv = await CoapServer.create(null, { mode: 'plain', psk: { identity: 'gw-1', key: Buffer.alloc(16) } });
  await plainSrv.close();
  void [codeText, fromWhom, got, observers, pqc.COAP_MAX_PAYLOAD, pqc.CoapMethod.GET];
  const limits: number = pqc.SIGNED_MAX_CONTENT + pqc.SEALED_MAX_PLAINTEXT + pqc.MQTT_MAX_PAYLOAD;
  void [when, own, sender, plaintext, rejected, limits];

  try {
    await Signature.create('nope');
  } catch (e) {
    if (e instanceof PqcError) {
      const code: pqc.StatusCode | 'PQC_ERR_UNKNOWN' = e.code;
      const st: number = e.status;
      const d: string = e.detail;
      void [code, st, d];
    }
  }
  void [v, info, ss, n, algs, ok, id, ann, sharedSecret];
}

void main;
