'use strict';
// Config node for a device identity: an encrypted keystore (made with the
// pqc-iiot CLI or pqc.Identity.create) opened with a passphrase or a raw
// 32-byte key held in Node-RED credentials, never in the flow. Other nodes
// call identity() for the open pqc.Identity. The MQTT and CoAP nodes will
// take their identity from here; signer() is the hook that lets it replace
// pqc-keys in the sign node once the C API can sign with identity keys.

const pqc = require('../pqc');
const { resolvePath } = require('./common');

module.exports = function register(RED) {
  function PqcIdentityNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.name = config.name;
    node.path = config.path;
    node.keyKind = config.keyKind === 'rawKey' ? 'rawKey' : 'passphrase';
    let opening = null;

    function keyOptions() {
      const creds = node.credentials || {};
      if (node.keyKind === 'rawKey') {
        const hex = String(creds.rawKey || '').trim();
        if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('raw key must be 64 hex digits (32 bytes)');
        return { rawKey: Buffer.from(hex, 'hex') };
      }
      if (!creds.passphrase) throw new Error('no passphrase set');
      return { passphrase: creds.passphrase };
    }

    node.identity = function identity() {
      if (!opening) {
        opening = (async () => {
          if (!node.path) throw new Error('no keystore path set');
          const opts = keyOptions();
          try {
            return await pqc.Identity.open(resolvePath(RED, node.path), opts);
          } finally {
            if (opts.rawKey) opts.rawKey.fill(0);
          }
        })().catch((err) => {
          opening = null;
          throw err;
        });
      }
      return opening;
    };

    node.deviceId = async () => (await node.identity()).deviceId();

    node.signer = async function signer() {
      throw new Error('signing with the identity key needs pqc_identity_sign, which libpqc_iiot does not offer yet; use a pqc-keys config');
    };

    node.on('close', (done) => {
      const o = opening;
      opening = null;
      if (!o) return done();
      // Closing wipes the keys in the library and releases the keystore
      // lock, so a redeploy can open it again.
      o.then((id) => id.close(), () => {}).then(() => done(), () => done());
    });
  }

  RED.nodes.registerType('pqc-identity', PqcIdentityNode, {
    credentials: {
      passphrase: { type: 'password' },
      rawKey: { type: 'password' },
    },
  });
};
