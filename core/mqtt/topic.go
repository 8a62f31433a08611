package mqtt

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// The reserved control-plane topic tree (docs/mqtt.md).
const (
	ReservedPrefix  = "pqc/"
	TopicKeysPrefix = "pqc/v1/keys/"
	TopicPolicy     = "pqc/v1/policy"
	TopicRevocation = "pqc/v1/revocation"
	TopicSyncPrefix = "pqc/v1/sync/"
	topicKeysAll    = "pqc/v1/keys/+"
	topicSyncAll    = "pqc/v1/sync/+"
	syncReplyPolicy = "/policy"
	syncReplyRevoc  = "/revocation"
)

// KeysTopic is where deviceID's retained announcement lives.
func KeysTopic(deviceID string) string { return TopicKeysPrefix + deviceID }

// SyncTopic is where deviceID asks for the current policy and revocation
// list; the answers go to SyncTopic(id)+"/policy" and "/revocation".
func SyncTopic(deviceID string) string { return TopicSyncPrefix + deviceID }

// checkName is the syntax shared by topic names and filters: MQTT's
// (non-empty, UTF-8, no NUL) plus our length cap and no control
// characters, which nothing legitimate puts in a topic and which make logs
// lie.
func checkName(s string) error {
	if s == "" || len(s) > MaxTopicLength || !utf8.ValidString(s) {
		return fmt.Errorf("%q: %w", truncate(s), ErrBadTopic)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%q: control character: %w", truncate(s), ErrBadTopic)
		}
	}
	return nil
}

// ValidateTopic checks a topic name for publishing: no wildcards, not
// starting with '$' (broker-internal).
func ValidateTopic(topic string) error {
	if err := checkName(topic); err != nil {
		return err
	}
	if strings.ContainsAny(topic, "+#") || topic[0] == '$' {
		return fmt.Errorf("%q: wildcard or $ in a topic name: %w", truncate(topic), ErrBadTopic)
	}
	return nil
}

// ValidateFilter checks a subscription filter: '+' only as a whole level,
// '#' only as the whole last level.
func ValidateFilter(filter string) error {
	if err := checkName(filter); err != nil {
		return err
	}
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("%q: '#' must be last: %w", filter, ErrBadTopic)
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return fmt.Errorf("%q: wildcard inside a level: %w", filter, ErrBadTopic)
		}
	}
	return nil
}

// Match reports whether topic matches filter as MQTT 3.1.1 §4.7 defines:
// '+' is exactly one level (possibly empty), '#' the parent level and any
// number below it, and wildcards in the first level never match topics
// starting with '$'.
func Match(filter, topic string) bool {
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore && !tmore {
			return true
		}
		if !tmore {
			// "a/#" matches "a": the remaining filter must be exactly "#".
			return fmore && frest == "#"
		}
		if !fmore {
			return false
		}
		filter, topic = frest, trest
	}
}

// reserved reports whether a topic or filter touches the control plane. A
// filter such as "#" or "+/v1/policy" also matches reserved topics; those
// are allowed (the client never routes control topics to application
// handlers), only explicit pqc/ filters are refused.
func reserved(s string) bool { return strings.HasPrefix(s, ReservedPrefix) || s == "pqc" }

// controlKind classifies a received reserved topic after its syntax was
// checked. id is the device id embedded in the topic, if any.
type controlKind int

const (
	ctlNone controlKind = iota
	ctlKeys
	ctlPolicy
	ctlRevocation
	ctlSyncRequest
	ctlSyncPolicy
	ctlSyncRevocation
	ctlHandshake // pqc/v1/hs/<id>: session handshakes for <id>
	ctlRatchet   // pqc/v1/r/<id>: keep-ratchet frames for <id>
)

func classifyControl(topic string) (controlKind, string, error) {
	switch {
	case topic == TopicPolicy:
		return ctlPolicy, "", nil
	case topic == TopicRevocation:
		return ctlRevocation, "", nil
	case strings.HasPrefix(topic, TopicHandshakePrefix), strings.HasPrefix(topic, TopicRatchetPrefix):
		kind, prefix := ctlHandshake, TopicHandshakePrefix
		if strings.HasPrefix(topic, TopicRatchetPrefix) {
			kind, prefix = ctlRatchet, TopicRatchetPrefix
		}
		id := topic[len(prefix):]
		if !identity.ValidID(id) {
			return ctlNone, "", fmt.Errorf("device id in %q: %w", truncate(topic), ErrBadTopic)
		}
		return kind, id, nil
	case strings.HasPrefix(topic, TopicKeysPrefix):
		id := topic[len(TopicKeysPrefix):]
		if !identity.ValidID(id) {
			return ctlNone, "", fmt.Errorf("device id in %q: %w", truncate(topic), ErrBadTopic)
		}
		return ctlKeys, id, nil
	case strings.HasPrefix(topic, TopicSyncPrefix):
		rest := topic[len(TopicSyncPrefix):]
		id, sub, hasSub := strings.Cut(rest, "/")
		if !identity.ValidID(id) {
			return ctlNone, "", fmt.Errorf("device id in %q: %w", truncate(topic), ErrBadTopic)
		}
		switch {
		case !hasSub:
			return ctlSyncRequest, id, nil
		case "/"+sub == syncReplyPolicy:
			return ctlSyncPolicy, id, nil
		case "/"+sub == syncReplyRevoc:
			return ctlSyncRevocation, id, nil
		}
	}
	return ctlNone, "", fmt.Errorf("unknown control topic %q: %w", truncate(topic), ErrBadTopic)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
