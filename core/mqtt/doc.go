// Package mqtt is the MQTT transport of pqc-iiot: a client over
// github.com/eclipse/paho.mqtt.golang that protects every application
// payload end to end through a Codec (SessionCodec, over core/session:
// multi-recipient sealed frames and pairwise sessions with handshakes on
// pqc/v1/hs/<id>), keeps the fleet's trust material current over a reserved
// control-plane topic tree (pqc/v1/...), and contains denial of service:
// size and syntax checks before any parsing, token-bucket budgets charged
// before any signature verification or decryption, bounded queues and
// bounded per-peer state, and a counter for every reason a frame is dropped.
//
// It offers QoS 1 at-least-once delivery through a persistent broker
// session (CleanSession false), with duplicates removed by the codec's
// replay window, so an application sees each accepted frame once.
//
// It refuses: unprotected application payloads (there is no plaintext
// mode), application traffic on the reserved pqc/ topics, frames that fail
// Unprotect (never delivered, only counted), and announcements, policies
// and revocation lists that do not verify, roll back or are stale.
//
// docs/mqtt.md describes the topic tree, the reliability semantics, the
// budgets and the fan-out design.
package mqtt
