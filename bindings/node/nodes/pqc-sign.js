'use strict';
// Signs a message property (msg.payload by default) and puts the signature
// in msg.signature. The key comes from a pqc-keys config node through its
// signer(); see pqc-keys.js for why it is not the identity's key yet.

const { messageBytes, short } = require('./common');

module.exports = function register(RED) {
  function PqcSignNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const keys = RED.nodes.getNode(config.keys);
    const property = config.property || 'payload';
    const target = config.target || 'signature';
    const encoding = config.encoding === 'base64' ? 'base64' : 'buffer';

    if (!keys) {
      node.status({ fill: 'red', shape: 'ring', text: 'no key config' });
    } else {
      // Load the keys at deploy time so a bad key shows before the first message.
      keys.signer().then(
        (s) => node.status({ fill: 'grey', shape: 'dot', text: s.algorithm }),
        (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));
    }

    node.on('input', async (msg, send, done) => {
      try {
        // Copied before the first await, so the signature and the payload
        // sent on are the same bytes whatever happens to msg meanwhile.
        const { bytes, value } = messageBytes(RED.util.getMessageProperty(msg, property));
        if (!keys) throw new Error('no pqc-keys config node selected');
        const signer = await keys.signer();
        const signature = await signer.sign(bytes);
        // The property now holds exactly the bytes that were signed (objects
        // become their JSON text), so what travels on verifies at the far end.
        RED.util.setMessageProperty(msg, property, value, true);
        RED.util.setMessageProperty(msg, target, encoding === 'base64' ? signature.toString('base64') : signature, true);
        msg.signatureAlgorithm = signer.algorithm;
        node.status({ fill: 'green', shape: 'dot', text: `signed (${signer.algorithm})` });
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
