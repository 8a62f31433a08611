'use strict';
// Subscribes through a pqc-broker and sends each verified message on:
// msg.payload the plaintext, msg.topic, msg.sender the device id the
// library authenticated (by signature or session, never taken from the
// topic or the MQTT client id). Frames that fail authentication, replays
// and re-routed frames are dropped inside the library and never reach the
// output; the status line counts them.

const { payloadOut } = require('./common');

module.exports = function register(RED) {
  function PqcMqttInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const broker = RED.nodes.getNode(config.broker);
    const topic = config.topic;
    const datatype = ['auto', 'utf8', 'buffer', 'json'].includes(config.datatype) ? config.datatype : 'auto';
    let received = 0;

    if (!broker) {
      node.status({ fill: 'red', shape: 'ring', text: 'no broker config' });
      return;
    }
    if (!topic) {
      node.status({ fill: 'red', shape: 'ring', text: 'no topic' });
      return;
    }

    // Status from the client's counters: connection, sessions, rejects.
    node.onStats = (st) => {
      const parts = ['connected'];
      if (st.accepted_handshakes > 0) parts.push('session established');
      parts.push(`${received} in`);
      const rejected = st.dropped_unprotect + st.dropped_bad_topic + st.dropped_oversize + st.dropped_rate_limited;
      if (rejected > 0) parts.push(`${rejected} rejected`);
      node.status({ fill: rejected > 0 ? 'yellow' : 'green', shape: 'dot', text: parts.join(' · ') });
    };

    const handler = (m) => {
      let payload;
      try {
        payload = payloadOut(m.payload, datatype);
      } catch (err) {
        node.error(`message from ${m.sender} on ${m.topic}: ${err.message}`, { topic: m.topic, sender: m.sender, payload: m.payload });
        return;
      }
      received++;
      node.send({ topic: m.topic, payload, sender: m.sender });
    };

    broker.register(node);
    broker.subscribe(topic, handler).catch((err) => {
      node.status({ fill: 'red', shape: 'ring', text: err.code || err.message });
      node.error(`subscribe ${topic}: ${err.message}`);
    });

    node.on('close', (done) => {
      broker.deregister(node);
      done();
    });
  }

  RED.nodes.registerType('pqc mqtt in', PqcMqttInNode);
};
