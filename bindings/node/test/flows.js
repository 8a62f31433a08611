'use strict';

// Pieces of Node-RED test flows shared by the node suites.

const { queueOf } = require('./fleet');

// A pqc-identity config node for a device of a provisioned fleet, and
// its credentials (raw key or passphrase, as the device was made).
function identityNode(fleet, id, name) {
  const d = fleet.devices[name];
  const node = { id, type: 'pqc-identity', name, path: d.store, keyKind: d.key.rawKey ? 'rawKey' : 'passphrase' };
  const creds = d.key.rawKey ? { rawKey: d.key.rawKey.toString('hex') } : { passphrase: d.key.passphrase };
  return { node, creds };
}

// A sensor flow (pqc mqtt out) and a SCADA flow (pqc mqtt in reading
// plant/# into the helper node 'received'), each device with its own
// pqc-broker config node carrying brokerSettings (url, TLS fields...).
function pubSubFlow(fleet, brokerSettings, sensorName = 'sensor-1', scadaName = 'scada-1') {
  const sensor = identityNode(fleet, 'idSensor', sensorName);
  const scada = identityNode(fleet, 'idScada', scadaName);
  const broker = (id, identityId) => ({ id, type: 'pqc-broker', identity: identityId, mode: 'auto', qos: '1', ...brokerSettings });
  const flow = [
    sensor.node, scada.node,
    broker('brokerSensor', 'idSensor'), broker('brokerScada', 'idScada'),
    { id: 'out', type: 'pqc mqtt out', broker: 'brokerSensor', topic: '' },
    { id: 'in', type: 'pqc mqtt in', broker: 'brokerScada', topic: 'plant/#', datatype: 'auto', wires: [['received']] },
    { id: 'received', type: 'helper' },
  ];
  return { flow, creds: { idSensor: sensor.creds, idScada: scada.creds } };
}

// A queue of what a helper node receives (its 'input' events).
function sink(node) {
  return queueOf(node, 'input');
}

module.exports = { identityNode, pubSubFlow, sink };
