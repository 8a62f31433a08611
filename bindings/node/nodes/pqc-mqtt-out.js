'use strict';
// Publishes msg.payload through a pqc-broker, protected end to end for the
// devices whose certificates let them read the topic. The topic is the
// node's, or msg.topic when the node has none.

const { messageBytes, short } = require('./common');

// While no reader of the topic has announced its keys there is nobody to
// encrypt to (PQC_ERR_STATE); right after deploy that is a matter of a
// moment, so a publish waits this long for one before failing.
const READER_WAIT_MS = 10000;
const READER_POLL_MS = 200;

module.exports = function register(RED) {
  function PqcMqttOutNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const broker = RED.nodes.getNode(config.broker);
    let published = 0;
    let failed = 0;

    if (!broker) {
      node.status({ fill: 'red', shape: 'ring', text: 'no broker config' });
      return;
    }

    node.onStats = (st) => {
      const parts = ['connected'];
      if (st.accepted_handshakes > 0) parts.push('session established');
      parts.push(`${published} out`);
      if (failed > 0) parts.push(`${failed} failed`);
      node.status({ fill: failed > 0 ? 'yellow' : 'green', shape: 'dot', text: parts.join(' · ') });
    };

    async function publishWhenReady(topic, bytes) {
      const deadline = Date.now() + READER_WAIT_MS;
      for (;;) {
        try {
          return await broker.publish(topic, bytes);
        } catch (err) {
          if (err.code !== 'PQC_ERR_STATE' || Date.now() >= deadline) throw err;
          await new Promise((r) => setTimeout(r, READER_POLL_MS));
        }
      }
    }

    broker.register(node);

    node.on('input', async (msg, send, done) => {
      try {
        const topic = config.topic || msg.topic;
        if (!topic || typeof topic !== 'string') throw new Error('no topic: set one on the node or in msg.topic');
        const { bytes } = messageBytes(msg.payload);
        await publishWhenReady(topic, bytes);
        published++;
        done();
      } catch (err) {
        failed++;
        node.status({ fill: 'red', shape: 'ring', text: short(err) });
        done(err);
      }
    });

    node.on('close', (done) => {
      broker.deregister(node);
      done();
    });
  }

  RED.nodes.registerType('pqc mqtt out', PqcMqttOutNode);
};
