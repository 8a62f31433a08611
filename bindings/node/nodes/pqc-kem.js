'use strict';
// Key encapsulation. "encapsulate": msg.payload (or the configured public
// key) is a recipient's public key; out come msg.payload = ciphertext and
// msg.sharedSecret. "decapsulate": msg.payload is a ciphertext, the secret
// key is a credential; out comes msg.sharedSecret. Shared secrets in a msg
// are as exposed as the flow is: feed them straight to the node that uses them.

const pqc = require('../pqc');
const { short } = require('./common');

function b64(s) {
  const t = String(s || '').replace(/\s+/g, '');
  return t ? Buffer.from(t, 'base64') : null;
}

function asBytes(v) {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  return null;
}

module.exports = function register(RED) {
  function PqcKemNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const mode = config.mode === 'decapsulate' ? 'decapsulate' : 'encapsulate';
    const algorithm = config.algorithm || 'ML-KEM-768';
    const configuredPublicKey = b64(config.publicKey);
    let secretKey = mode === 'decapsulate' ? b64(node.credentials && node.credentials.secretKey) : null;
    const kemP = pqc.Kem.create(algorithm);
    kemP.then(
      (k) => node.status({ fill: 'grey', shape: 'dot', text: `${k.algorithm} ${mode}` }),
      (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));

    node.on('input', async (msg, send, done) => {
      try {
        const kem = await kemP;
        if (mode === 'encapsulate') {
          const pk = configuredPublicKey || asBytes(msg.payload);
          if (!pk) throw new Error('no public key: set one or send it in msg.payload');
          const { ciphertext, sharedSecret } = await kem.encapsulate(pk);
          msg.payload = ciphertext;
          msg.sharedSecret = sharedSecret;
        } else {
          if (!secretKey) throw new Error('no secret key set');
          const ct = asBytes(msg.payload);
          if (!ct) throw new Error('msg.payload must be the ciphertext (Buffer or base64)');
          msg.sharedSecret = await kem.decapsulate(secretKey, ct);
        }
        msg.kemAlgorithm = kem.algorithm;
        node.status({ fill: 'green', shape: 'dot', text: `${mode}d` });
        send(msg);
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: short(err) });
        done(err);
      }
    });

    node.on('close', (done) => {
      if (secretKey) secretKey.fill(0);
      secretKey = null;
      kemP.then((k) => k.close(), () => {}).then(() => done(), () => done());
    });
  }

  RED.nodes.registerType('pqc kem', PqcKemNode, {
    credentials: { secretKey: { type: 'password' } },
  });
};
