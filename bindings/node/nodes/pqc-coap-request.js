'use strict';
// Sends msg.payload as a secure CoAP request to a pqc-iiot server and
// passes on the verified response: msg.payload the response payload,
// msg.code its code ("2.05"), msg.sender the device the library
// authenticated as the responder. 2.xx answers leave by the first output,
// 4.xx/5.xx answers by the second; failures (timeout, a response that did
// not verify, a replay) go to Catch nodes.

const fs = require('node:fs');
const pqc = require('../pqc');
const { messageBytes, payloadOut, resolvePath, short } = require('./common');

const MODES = ['session', 'signed', 'oscore', 'plain'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'IPATCH'];

module.exports = function register(RED) {
  function PqcCoapRequestNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const mode = MODES.includes(config.mode) ? config.mode : 'session';
    const identityNode = config.identity ? RED.nodes.getNode(config.identity) : null;
    const timeoutMs = Math.max(0, Math.round(Number(config.timeout || 10) * 1000));
    let connecting = null;
    let sent = 0;

    if (mode !== 'plain' && !identityNode) {
      node.status({ fill: 'red', shape: 'ring', text: 'no identity config' });
    } else {
      node.status({ fill: 'grey', shape: 'ring', text: `${mode} · idle` });
    }

    function psk() {
      const creds = node.credentials || {};
      if (!config.pskIdentity) return null;
      const hex = String(creds.psk || '').trim();
      if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error('the DTLS PSK must be hex digits');
      return { identity: config.pskIdentity, key: Buffer.from(hex, 'hex') };
    }

    // The client is made on the first message and kept: the session (or
    // OSCORE context) it sets up serves every later request.
    function coapClient() {
      if (!connecting) {
        connecting = (async () => {
          if (!config.address) throw new Error('no server address set');
          const id = mode === 'plain' ? (identityNode ? await identityNode.identity() : null) : await identityNode.identity();
          const key = psk();
          const c = await pqc.CoapClient.create(id, config.address, {
            mode, peer: config.peer || null, timeoutMs, psk: key,
          });
          if (key) key.key.fill(0);
          if (config.peerChain) {
            await c.addPeer(fs.readFileSync(resolvePath(RED, config.peerChain)));
          }
          return c;
        })().catch((err) => {
          connecting = null;
          throw err;
        });
      }
      return connecting;
    }

    node.on('input', async (msg, send, done) => {
      try {
        if (mode !== 'plain' && !identityNode) throw new Error('no identity config node');
        const method = String(config.method || msg.method || 'GET').toUpperCase();
        if (!METHODS.includes(method)) throw new Error(`unknown CoAP method ${method}`);
        const p = config.path || msg.path;
        if (!p || typeof p !== 'string' || !p.startsWith('/')) throw new Error('no path: set one on the node or in msg.path (starting with /)');
        const body = method === 'GET' || method === 'DELETE' || msg.payload == null ? Buffer.alloc(0) : messageBytes(msg.payload).bytes;
        const cf = msg.contentFormat != null ? Number(msg.contentFormat) : (config.contentFormat !== '' && config.contentFormat != null ? Number(config.contentFormat) : null);
        node.status({ fill: 'blue', shape: 'dot', text: `${method} ${p}` });
        const c = await coapClient();
        const r = await c.request(method, p, body, { contentFormat: cf });
        sent++;
        msg.payload = payloadOut(r.payload, config.datatype || 'auto');
        msg.code = r.codeText;
        msg.statusCode = r.code;
        msg.contentFormat = r.contentFormat;
        msg.sender = r.sender;
        const ok = r.code >> 5 === 2;
        node.status({ fill: ok ? 'green' : 'yellow', shape: 'dot', text: `${r.codeText} from ${r.sender || '(unauthenticated)'} · ${sent} sent` });
        send(ok ? [msg, null] : [null, msg]);
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: short(err) });
        done(err);
      }
    });

    node.on('close', (done) => {
      const c = connecting;
      connecting = null;
      if (!c) return done();
      const closing = c.then((cl) => cl.close(), () => {});
      // The identity closes after its clients (nodes/pqc-identity.js).
      if (identityNode && identityNode.closingDependent) identityNode.closingDependent(closing);
      closing.then(() => done(), () => done());
    });
  }

  RED.nodes.registerType('pqc coap request', PqcCoapRequestNode, {
    credentials: { psk: { type: 'password' } },
  });
};
