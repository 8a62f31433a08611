'use strict';
// Signs a message. Two ways, chosen by the config node selected:
//  - a pqc-identity (the device's certified key): msg.payload becomes a
//    self-contained signed envelope (content, the device's chain, an
//    ML-DSA signature) bound to a context (the node's, else msg.topic);
//    pqc verify with any identity of the same fleet checks it and names
//    the device;
//  - a pqc-keys key pair (raw keys, no certificates): the signature goes to
//    msg.signature beside the payload.

const { messageBytes, short } = require('./common');

module.exports = function register(RED) {
  function PqcSignNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const identityNode = config.identity ? RED.nodes.getNode(config.identity) : null;
    const keys = identityNode ? null : RED.nodes.getNode(config.keys);
    const property = config.property || 'payload';
    const target = config.target || 'signature';
    const encoding = config.encoding === 'base64' ? 'base64' : 'buffer';
    let signed = 0;

    if (identityNode) {
      identityNode.deviceId().then(
        (id) => node.status({ fill: 'grey', shape: 'dot', text: `as ${id}` }),
        (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));
    } else if (!keys) {
      node.status({ fill: 'red', shape: 'ring', text: 'no identity or key config' });
    } else {
      // Load the keys at deploy time so a bad key shows before the first message.
      keys.signer().then(
        (s) => node.status({ fill: 'grey', shape: 'dot', text: s.algorithm }),
        (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));
    }

    async function envelope(msg) {
      const { bytes } = messageBytes(RED.util.getMessageProperty(msg, property));
      const context = config.context || (typeof msg.topic === 'string' ? msg.topic : '');
      const identity = await identityNode.identity();
      const env = await identity.sign(context, bytes);
      RED.util.setMessageProperty(msg, property, encoding === 'base64' ? env.toString('base64') : env, true);
      msg.context = context;
      node.status({ fill: 'green', shape: 'dot', text: `${++signed} signed` });
    }

    async function detached(msg) {
      // Copied before the first await, so the signature and the payload
      // sent on are the same bytes whatever happens to msg meanwhile.
      const { bytes, value } = messageBytes(RED.util.getMessageProperty(msg, property));
      if (!keys) throw new Error('no pqc-identity or pqc-keys config node selected');
      const signer = await keys.signer();
      const signature = await signer.sign(bytes);
      // The property now holds exactly the bytes that were signed (objects
      // become their JSON text), so what travels on verifies at the far end.
      RED.util.setMessageProperty(msg, property, value, true);
      RED.util.setMessageProperty(msg, target, encoding === 'base64' ? signature.toString('base64') : signature, true);
      msg.signatureAlgorithm = signer.algorithm;
      node.status({ fill: 'green', shape: 'dot', text: `signed (${signer.algorithm})` });
    }

    node.on('input', async (msg, send, done) => {
      try {
        await (identityNode ? envelope(msg) : detached(msg));
        send(msg);
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: short(err) });
        done(err);
      }
    });
  }

  RED.nodes.registerType('pqc sign', PqcSignNode);
};
