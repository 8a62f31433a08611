'use strict';
// pqc seal / pqc open: sealed messages over any transport (a file, HTTP, a
// serial line, plain MQTT). A sealed frame is signed by the sending device
// and encrypted to the recipient's certified KEM key; opening it checks
// both and accepts each frame once. Peers are known from their certificate
// chains: files named in the node, or msg.peerChain.

const fs = require('node:fs');
const { messageBytes, payloadOut, resolvePath, short } = require('./common');

// The peers' chains named in a node (comma-separated files), verified and
// recorded in the identity's shared session manager once per node.
async function managerWithPeers(RED, identityNode, peerFiles) {
  const m = await identityNode.sessionManager();
  for (const f of peerFiles) {
    const chain = await fs.promises.readFile(resolvePath(RED, f));
    await m.addPeer(chain);
  }
  return m;
}

function files(list) {
  return String(list || '').split(',').map((s) => s.trim()).filter(Boolean);
}

function chainOf(v) {
  if (v == null) return null;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'string') return Buffer.from(v, 'base64');
  throw new Error('msg.peerChain must be a Buffer or base64 text');
}

module.exports = function register(RED) {
  function setup(node, config) {
    const identityNode = RED.nodes.getNode(config.identity);
    if (!identityNode) {
      node.status({ fill: 'red', shape: 'ring', text: 'no identity config' });
      return null;
    }
    const ready = managerWithPeers(RED, identityNode, files(config.peers));
    ready.then(
      () => node.status({ fill: 'grey', shape: 'dot', text: 'ready' }),
      (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));
    ready.catch(() => {});
    return ready;
  }

  function PqcSealNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const ready = setup(node, config);
    let sealed = 0;

    node.on('input', async (msg, send, done) => {
      try {
        if (!ready) throw new Error('no pqc-identity config selected');
        const m = await ready;
        const peer = chainOf(msg.peerChain);
        if (peer) await m.addPeer(peer);
        const recipient = config.recipient || msg.recipient;
        const context = config.context || msg.topic || '';
        if (!recipient) throw new Error('no recipient: set one on the node or in msg.recipient');
        const { bytes } = messageBytes(msg.payload);
        msg.payload = await m.seal(recipient, context, bytes);
        msg.recipient = recipient;
        sealed++;
        node.status({ fill: 'green', shape: 'dot', text: `${sealed} sealed` });
        send(msg);
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: short(err) });
        done(err);
      }
    });
  }

  function PqcOpenNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const ready = setup(node, config);
    const datatype = ['auto', 'utf8', 'buffer', 'json'].includes(config.datatype) ? config.datatype : 'auto';
    let opened = 0;
    let rejected = 0;

    node.on('input', async (msg, send, done) => {
      try {
        if (!ready) throw new Error('no pqc-identity config selected');
        const m = await ready;
        const peer = chainOf(msg.peerChain);
        if (peer) await m.addPeer(peer);
        const frame = msg.payload;
        if (!Buffer.isBuffer(frame) && !(frame instanceof Uint8Array)) throw new Error('msg.payload must be a sealed frame (Buffer)');
        const context = config.context || msg.topic || '';
        const r = await m.open(frame, context);
        msg.payload = payloadOut(r.plaintext, datatype);
        msg.sender = r.sender;
        opened++;
        node.status({ fill: 'green', shape: 'dot', text: `${opened} opened · ${rejected} rejected` });
        send([msg, null]);
        done();
      } catch (err) {
        // A frame that does not open goes to the second output with the
        // reason; it never reaches the first.
        rejected++;
        msg.error = { message: err.message, code: err.code, source: { id: node.id, type: node.type, name: node.name } };
        node.status({ fill: 'red', shape: 'ring', text: `${opened} opened · ${rejected} rejected: ${short(err)}` });
        send([null, msg]);
        done();
      }
    });
  }

  RED.nodes.registerType('pqc seal', PqcSealNode);
  RED.nodes.registerType('pqc open', PqcOpenNode);
};
