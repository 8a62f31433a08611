'use strict';
// Config node holding a signature key pair for the sign and verify nodes.
//
// The C API has no "sign with the identity's key" call yet, so signing uses
// a scheme-level key pair that this node holds. Other nodes ask it for a
// signer()/verifier() and never touch key bytes, so a pqc-identity config
// node that offers the same two functions can replace it when the library
// can sign with identity keys (which then stay inside the keystore).

const fs = require('node:fs');
const path = require('node:path');
const pqc = require('../pqc');
const { resolvePath } = require('./common');

const SELF_TEST = Buffer.from('pqc-keys self-test');

function b64(s, what) {
  if (!s) return null;
  const t = String(s).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t)) throw new Error(`${what} is not base64`);
  return Buffer.from(t, 'base64');
}

// Reads {algorithm, publicKey, secretKey} (base64) from file, or makes a
// new key pair there (mode 0600, never overwriting) when allowed.
async function fromFile(file, algorithm, create) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code !== 'ENOENT' || !create) throw new Error(`key file ${file}: ${err.message}`);
    const sig = await pqc.Signature.create(algorithm);
    try {
      const { publicKey, secretKey } = await sig.keypair();
      const doc = { algorithm: sig.algorithm, publicKey: publicKey.toString('base64'), secretKey: secretKey.toString('base64') };
      secretKey.fill(0);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // 'wx': if another process made the file meanwhile, use theirs.
      try {
        fs.writeFileSync(file, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if (e.code !== 'EEXIST') throw e;
      }
    } finally {
      await sig.close();
    }
    text = fs.readFileSync(file, 'utf8');
  }
  const doc = JSON.parse(text);
  return {
    algorithm: doc.algorithm || algorithm,
    publicKey: b64(doc.publicKey, 'publicKey'),
    secretKey: b64(doc.secretKey, 'secretKey'),
  };
}

module.exports = function register(RED) {
  function PqcKeysNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.name = config.name;
    node.algorithm = config.algorithm || 'ML-DSA-65';
    node.source = config.source === 'file' ? 'file' : 'credentials';
    node.file = config.file;
    node.createFile = Boolean(config.createFile);
    let loading = null;
    let held = null;

    async function load() {
      let k;
      if (node.source === 'file') {
        k = await fromFile(resolvePath(RED, node.file), node.algorithm, node.createFile);
      } else {
        const creds = node.credentials || {};
        k = {
          algorithm: node.algorithm,
          publicKey: b64(config.publicKey, 'public key'),
          secretKey: b64(creds.secretKey, 'secret key'),
        };
      }
      if (!k.publicKey) throw new Error('no public key configured');
      const sig = await pqc.Signature.create(k.algorithm);
      held = { sig, ...k, algorithm: sig.algorithm };
      if (k.publicKey.length !== sig.sizes.publicKey) {
        throw new Error(`${sig.algorithm} public key is ${k.publicKey.length} bytes, want ${sig.sizes.publicKey}`);
      }
      if (k.secretKey) {
        // A pasted secret key that does not belong to the public key would
        // make every signature fail at the far end; find out now.
        const s = await sig.sign(k.secretKey, SELF_TEST);
        if (!(await sig.verify(k.publicKey, SELF_TEST, s))) {
          throw new Error('secret key does not match the public key');
        }
      }
      return held;
    }

    node.keys = function keys() {
      if (!loading) {
        loading = load().catch((err) => {
          // Let the next message try again (e.g. after the file appears).
          forget();
          loading = null;
          throw err;
        });
      }
      return loading;
    };

    node.signer = async function signer() {
      const k = await node.keys();
      if (!k.secretKey) throw new Error('this key config has no secret key; it can only verify');
      return {
        algorithm: k.algorithm,
        publicKey: k.publicKey,
        sign: (bytes) => k.sig.sign(k.secretKey, bytes),
      };
    };

    node.verifier = async function verifier() {
      const k = await node.keys();
      return {
        algorithm: k.algorithm,
        verify: (bytes, signature) => k.sig.verify(k.publicKey, bytes, signature),
      };
    };

    function forget() {
      if (!held) return null;
      const h = held;
      held = null;
      if (h.secretKey) h.secretKey.fill(0);
      return h.sig.close().catch(() => {});
    }

    node.on('close', (done) => {
      loading = null;
      Promise.resolve(forget()).then(() => done(), () => done());
    });
  }

  RED.nodes.registerType('pqc-keys', PqcKeysNode, {
    credentials: {
      secretKey: { type: 'password' },
    },
  });

  // "Generate" in the edit dialog. Behind the editor's own authentication
  // and permission scheme; the secret goes back to the editor, which stores
  // it as a credential (never in the flow).
  if (RED.httpAdmin && RED.auth) {
    RED.httpAdmin.post('/pqc-iiot/keypair', RED.auth.needsPermission('pqc-keys.write'), async (req, res) => {
      const algorithm = (req.body && req.body.algorithm) || 'ML-DSA-65';
      let sig;
      try {
        sig = await pqc.Signature.create(String(algorithm));
        const { publicKey, secretKey } = await sig.keypair();
        res.json({ algorithm: sig.algorithm, publicKey: publicKey.toString('base64'), secretKey: secretKey.toString('base64') });
        secretKey.fill(0);
      } catch (err) {
        res.status(400).json({ error: err.message });
      } finally {
        if (sig) sig.close().catch(() => {});
      }
    });
    RED.httpAdmin.get('/pqc-iiot/algorithms', RED.auth.needsPermission('pqc-keys.read'), async (req, res) => {
      try {
        res.json({ signature: await pqc.Signature.algorithms(), kem: await pqc.Kem.algorithms() });
      } catch (err) {
        res.status(500).json({ error: err.message });
      }
    });
  }
};
