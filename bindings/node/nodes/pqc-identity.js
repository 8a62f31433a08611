'use strict';
// Config node for a device identity: an encrypted keystore (made with the
// pqc-iiot CLI or pqc.Identity.create) opened with a passphrase or a raw
// 32-byte key held in Node-RED credentials, never in the flow. Other nodes
// call identity() for the open pqc.Identity (pqc-broker, pqc sign and pqc
// verify in envelope mode) and sessionManager() for the one manager that
// pqc seal and pqc open share.

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

    // One session manager per identity: its replay marks for sealed
    // frames must be shared by every node that opens them.
    let managing = null;
    node.sessionManager = function sessionManager() {
      if (!managing) {
        managing = node.identity().then((id) => pqc.SessionManager.create(id)).catch((err) => {
          managing = null;
          throw err;
        });
      }
      return managing;
    };

    // Closings of objects made on this identity (MQTT clients): the
    // library wants them closed before the identity is.
    const dependents = new Set();
    node.closingDependent = function closingDependent(promise) {
      const p = Promise.resolve(promise).catch(() => {});
      dependents.add(p);
    };

    node.on('close', (done) => {
      const o = opening;
      const m = managing;
      opening = null;
      managing = null;
      if (!o) return done();
      // Node-RED calls every node's close handler in one pass, in no set
      // order; after a turn of the event loop, every broker using this
      // identity has registered its closing. Then the manager, then the
      // identity: closing wipes the keys in the library and releases the
      // keystore lock, so a redeploy can open it again.
      setImmediate(async () => {
        await Promise.all([...dependents]);
        dependents.clear();
        if (m) await m.then((x) => x.close(), () => {});
        await o.then((id) => id.close(), () => {});
        done();
      });
    });
  }

  RED.nodes.registerType('pqc-identity', PqcIdentityNode, {
    credentials: {
      passphrase: { type: 'password' },
      rawKey: { type: 'password' },
    },
  });
};
