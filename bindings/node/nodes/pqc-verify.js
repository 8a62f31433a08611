'use strict';
// Verifies a message and routes it: output 1 valid, output 2 invalid (with
// msg.error). Anything that is not a positive verification (no signature,
// wrong length, untrusted chain, library error) goes to output 2: the
// valid output only ever carries verified bytes.
//
// With a pqc-identity selected, msg.payload is a signed envelope (pqc
// sign with an identity): it is checked against that identity's fleet
// anchor, policy and revocation list, and on output 1 msg.payload is the
// content and msg.sender the device the chain certifies. With pqc-keys,
// msg.signature is checked over the payload with the configured public key.

const { messageBytes, signatureBytes, payloadOut, short } = require('./common');

module.exports = function register(RED) {
  function PqcVerifyNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const identityNode = config.identity ? RED.nodes.getNode(config.identity) : null;
    const keys = identityNode ? null : RED.nodes.getNode(config.keys);
    const property = config.property || 'payload';
    const source = config.source || 'signature';
    const datatype = ['auto', 'utf8', 'buffer', 'json'].includes(config.datatype) ? config.datatype : 'auto';

    if (identityNode) {
      identityNode.identity().then(
        () => node.status({ fill: 'grey', shape: 'dot', text: 'fleet trust' }),
        (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));
    } else if (!keys) {
      node.status({ fill: 'red', shape: 'ring', text: 'no identity or key config' });
    } else {
      keys.verifier().then(
        (v) => node.status({ fill: 'grey', shape: 'dot', text: v.algorithm }),
        (err) => node.status({ fill: 'red', shape: 'ring', text: short(err) }));
    }

    let valid = 0;
    let invalid = 0;

    function envelopeBytes(v) {
      if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v);
      if (typeof v === 'string') return Buffer.from(v, 'base64');
      return null;
    }

    // Resolves to null when verified (msg updated), else to the reason.
    async function checkEnvelope(msg) {
      const env = envelopeBytes(RED.util.getMessageProperty(msg, property));
      if (!env) return `msg.${property} is not a signed envelope (Buffer or base64)`;
      const context = config.context || (typeof msg.topic === 'string' ? msg.topic : '');
      const identity = await identityNode.identity();
      const r = await identity.verifySigned(env, context);
      RED.util.setMessageProperty(msg, property, payloadOut(r.content, datatype), true);
      msg.sender = r.sender;
      msg.signedAt = r.signedAt.getTime();
      return null;
    }

    async function checkDetached(msg) {
      // Take private copies before the first await: the verdict is about
      // these bytes, and these bytes are what leaves on the valid output,
      // even if another branch of the flow changes msg.payload meanwhile.
      const { bytes, value } = messageBytes(RED.util.getMessageProperty(msg, property));
      const signature = signatureBytes(RED.util.getMessageProperty(msg, source));
      if (!keys) throw new Error('no pqc-identity or pqc-keys config node selected');
      const verifier = await keys.verifier();
      if (!signature) return `msg.${source} is missing or not a Buffer/base64 string`;
      if (!(await verifier.verify(bytes, signature))) return 'signature does not verify';
      RED.util.setMessageProperty(msg, property, value, true);
      return null;
    }

    node.on('input', async (msg, send, done) => {
      let reason;
      try {
        reason = await (identityNode ? checkEnvelope(msg) : checkDetached(msg));
        if (reason === null) {
          valid++;
          node.status({ fill: 'green', shape: 'dot', text: `valid (${valid} ok, ${invalid} bad)` });
          send([msg, null]);
          done();
          return;
        }
      } catch (err) {
        reason = short(err);
        // Configuration problems are errors for the Catch node too; a bad
        // signature or an untrusted sender alone is not, it is the invalid
        // output's job.
        const refusal = ['PQC_ERR_INVALID_ARGUMENT', 'PQC_ERR_VERIFY', 'PQC_ERR_UNTRUSTED', 'PQC_ERR_REVOKED', 'PQC_ERR_EXPIRED'];
        if (!err.code || !refusal.includes(err.code)) node.warn(err.message || String(err));
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
