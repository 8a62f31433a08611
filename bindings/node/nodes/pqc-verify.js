'use strict';
// Verifies msg.signature over a message property and routes the message:
// output 1 valid, output 2 invalid (with msg.error). Anything that is not a
// positive verification (no signature, wrong length, library error) goes to
// output 2: the valid output only ever carries verified bytes.

const { messageBytes, signatureBytes, short } = require('./common');

module.exports = function register(RED) {
  function PqcVerifyNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const keys = RED.nodes.getNode(config.keys);
    const property = config.property || 'payload';
    const source = config.source || 'signature';

    if (!keys) {
      node.status({ fill: 'red', shape: 'ring', text: 'no key config' });
    } else {
      keys.verifier().then(
        (v) => node.status({ fill: 'grey', shape: 'dot', text: v.algorithm }),
        (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));
    }

    let valid = 0;
    let invalid = 0;

    node.on('input', async (msg, send, done) => {
      let reason;
      try {
        // Take private copies before the first await: the verdict is about
        // these bytes, and these bytes are what leaves on the valid output,
        // even if another branch of the flow changes msg.payload meanwhile.
        const { bytes, value } = messageBytes(RED.util.getMessageProperty(msg, property));
        const signature = signatureBytes(RED.util.getMessageProperty(msg, source));
        if (!keys) throw new Error('no pqc-keys config node selected');
        const verifier = await keys.verifier();
        if (!signature) {
          reason = `msg.${source} is missing or not a Buffer/base64 string`;
        } else if (await verifier.verify(bytes, signature)) {
          RED.util.setMessageProperty(msg, property, value, true);
          valid++;
          node.status({ fill: 'green', shape: 'dot', text: `valid (${valid} ok, ${invalid} bad)` });
          send([msg, null]);
          done();
          return;
        } else {
          reason = 'signature does not verify';
        }
      } catch (err) {
        reason = short(err);
        // Configuration problems are errors for the Catch node too; a bad
        // signature alone is not, it is the invalid output's job.
        if (!err.code || err.code !== 'PQC_ERR_INVALID_ARGUMENT') node.warn(err.message || String(err));
      }
      invalid++;
      msg.error = { message: reason, source: { id: node.id, type: node.type, name: node.name } };
      node.status({ fill: 'red', shape: 'ring', text: `invalid: ${reason}` });
      send([null, msg]);
      done();
    });
  }

  RED.nodes.registerType('pqc verify', PqcVerifyNode);
};
