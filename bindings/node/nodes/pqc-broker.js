'use strict';
// Config node for an MQTT broker, used as a device identity: it owns one
// pqc.MqttClient shared by every pqc mqtt in / out node that names it, the
// way Node-RED's own mqtt-broker node owns its connection. Broker
// credentials are Node-RED credentials, never in the flow.
//
// The first connection is retried until it succeeds (the broker may start
// after Node-RED); later losses are repaired by the library itself.

const pqc = require('../pqc');
const { resolvePath, short } = require('./common');

const RETRY_MS = 3000;
// How often the in/out nodes' status is refreshed from the client's
// counters (connected, sessions, rejects).
const STATS_MS = 1000;

// MQTT topic filter matching (+ one level, # the rest), for dispatching the
// client's messages to the in nodes whose filter they match.
function topicMatches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// A text field of the editor: trimmed (a pasted path often ends in a
// space), and undefined when empty.
function setting(v) {
  const s = typeof v === 'string' ? v.trim() : '';
  return s || undefined;
}

module.exports = function register(RED) {
  function filePath(v) {
    const s = setting(v);
    return s && resolvePath(RED, s);
  }

  function PqcBrokerNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.name = config.name;
    node.url = config.url;
    node.mode = ['auto', 'sealed', 'sessions'].includes(config.mode) ? config.mode : 'auto';
    node.qos = Number(config.qos) === 0 ? 0 : 1;
    const identityNode = RED.nodes.getNode(config.identity);

    const users = new Set(); // in/out nodes, for status
    const subscriptions = new Map(); // filter -> Set of handlers
    let made = null; // the pqc.MqttClient being started, for subscriptions
    let client = null; // the same once connected
    let starting = null;
    let closed = false;
    let retry = null;
    let state = { fill: 'grey', shape: 'ring', text: 'not connected' };

    function setState(s) {
      state = s;
      for (const u of users) u.status(s);
    }

    async function start() {
      if (!identityNode) throw new Error('no pqc-identity config selected');
      if (!node.url) throw new Error('no broker URL set');
      const identity = await identityNode.identity();
      const creds = node.credentials || {};
      const c = await pqc.MqttClient.create(identity, node.url, {
        mode: node.mode,
        qos: node.qos,
        clientId: config.clientId || undefined,
        username: creds.username || undefined,
        password: creds.password || undefined,
        keepaliveSeconds: Number(config.keepalive) || undefined,
        // TLS to the broker, for ssl:// (tls://, mqtts://, tcps://) URLs.
        // File paths are not secrets, so they are part of the flow;
        // relative ones are relative to the Node-RED user directory. Empty
        // fields are left out: the library refuses any TLS option on a
        // tcp:// URL, and an empty field means "not set".
        tlsCaFile: filePath(config.tlsCaFile),
        tlsCertFile: filePath(config.tlsCertFile),
        tlsKeyFile: filePath(config.tlsKeyFile),
        tlsServerName: setting(config.tlsServerName),
      });
      // Recorded now, subscribed by the library on connect; filters added
      // from here on go to made directly.
      made = c;
      for (const filter of subscriptions.keys()) await c.subscribe(filter);
      c.on('message', dispatch);
      c.on('error', (err) => node.error(`receiving: ${err.message}`));
      setState({ fill: 'yellow', shape: 'ring', text: 'connecting' });
      try {
        await c.connect();
      } catch (err) {
        made = null;
        await c.close();
        throw err;
      }
      if (closed) {
        await c.close();
        return null;
      }
      client = c;
      setState({ fill: 'green', shape: 'dot', text: 'connected' });
      return c;
    }

    function dispatch(m) {
      for (const [filter, handlers] of subscriptions) {
        if (!topicMatches(filter, m.topic)) continue;
        for (const h of handlers) h(m);
      }
    }

    // The client, connecting on first use and retrying until it works.
    node.client = function getClient() {
      if (client) return Promise.resolve(client);
      if (!starting) {
        starting = start().catch((err) => {
          starting = null;
          if (!closed) {
            setState({ fill: 'red', shape: 'ring', text: short(err) });
            node.warn(`connecting to ${node.url}: ${err.message}`);
            retry = setTimeout(() => node.client().catch(() => {}), RETRY_MS);
          }
          throw err;
        });
      }
      return starting;
    };

    node.register = function registerUser(user) {
      users.add(user);
      user.status(state);
      node.client().catch(() => {});
    };

    node.deregister = function deregisterUser(user) {
      users.delete(user);
    };

    node.subscribe = async function subscribe(filter, handler) {
      let set = subscriptions.get(filter);
      const fresh = !set;
      if (fresh) subscriptions.set(filter, (set = new Set()));
      set.add(handler);
      if (fresh && made) await made.subscribe(filter);
    };

    node.publish = async function publish(topic, payload) {
      const c = await node.client();
      return c.publish(topic, payload);
    };

    // Counters for the users' status lines.
    const poll = setInterval(async () => {
      if (!client || closed || users.size === 0) return;
      try {
        const st = await client.stats();
        for (const u of users) if (u.onStats) u.onStats(st);
      } catch (err) {
        // A closed client: its close handler reports the state.
      }
    }, STATS_MS);
    poll.unref();

    node.on('close', (done) => {
      closed = true;
      clearInterval(poll);
      clearTimeout(retry);
      const closing = (async () => {
        const c = client || (starting && (await starting.catch(() => null)));
        client = null;
        made = null;
        if (c) await c.close();
      })();
      if (identityNode && identityNode.closingDependent) identityNode.closingDependent(closing);
      closing.then(() => done(), (err) => {
        node.warn(`closing: ${err.message}`);
        done();
      });
    });
  }

  RED.nodes.registerType('pqc-broker', PqcBrokerNode, {
    credentials: {
      username: { type: 'text' },
      password: { type: 'password' },
    },
  });
};

module.exports.topicMatches = topicMatches;
