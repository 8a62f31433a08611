package identity

import (
	"bytes"
	"fmt"
	"time"
)

// KindSigned labels a signed envelope: application content signed by a
// device's operational key, carrying the chain that certifies the key, so
// that anyone holding the fleet's trust anchor can check it without having
// seen the device before (a file, an HTTP body, a message through any
// broker). Unlike a sealed message it is not encrypted and not one-time:
// the same envelope verifies every time it is presented, so a receiver
// that must not act twice on one envelope keeps its own record.
const KindSigned Kind = "application/pqc-iiot.signed+cbor;v=1"

// Envelope limits, checked before any parsing or signing.
const (
	// MaxEnvelopeContent bounds the signed content.
	MaxEnvelopeContent = 64 << 10
	// MaxEnvelopeContext bounds the context string (a topic, a path).
	MaxEnvelopeContext = 1024
	// envelopeSkew is how far in the future a signing time may lie, for
	// clocks that disagree a little.
	envelopeSkew = 5 * time.Minute
)

// maxEnvelopeSize is the largest envelope accepted: the content, a full
// chain and room for the claims and the signature.
const maxEnvelopeSize = MaxEnvelopeContent + maxChainLength*MaxObjectSize + MaxObjectSize

// EnvelopeClaims are the signed payload of an envelope. The context is the
// routing context the signer meant (topic, path, file name); it is also
// bound as COSE external data, so a verifier that expects another context
// fails the signature check as well as the claim comparison.
type EnvelopeClaims struct {
	DeviceID  string `cbor:"1,keyasint"`
	Context   string `cbor:"2,keyasint"`
	Timestamp int64  `cbor:"3,keyasint"`
	Chain     []byte `cbor:"4,keyasint"` // EncodeChain, leaf first
	Content   []byte `cbor:"5,keyasint"`
}

// SignedContent is a verified envelope.
type SignedContent struct {
	DeviceID string       // the subject of the verified leaf certificate
	Context  string       // equal to the context the verifier asked for
	SignedAt time.Time    // the signer's clock, not in the verifier's future
	Content  []byte       // the bytes the device signed
	Cert     *Certificate // the verified leaf
}

// SignEnvelope signs content for context with the operational key that the
// chain's leaf certifies for deviceID.
func SignEnvelope(deviceID, context string, key *SigningKey, chain, content []byte, now time.Time) ([]byte, error) {
	if err := checkEnvelopeInputs(context, content); err != nil {
		return nil, err
	}
	if !ValidID(deviceID) || len(chain) == 0 {
		return nil, fmt.Errorf("envelope needs a device id and a chain: %w", ErrMalformed)
	}
	c := EnvelopeClaims{DeviceID: deviceID, Context: context, Timestamp: now.Unix(), Chain: chain, Content: content}
	payload, err := marshal(c)
	if err != nil {
		return nil, err
	}
	return key.sign(KindSigned, payload, []byte(context))
}

// SignEnvelope signs content for context with the device's current
// operational key and chain.
func (d *Device) SignEnvelope(context string, content []byte, now time.Time) ([]byte, error) {
	// Checked before the secret keys are loaded from the keystore.
	if err := checkEnvelopeInputs(context, content); err != nil {
		return nil, err
	}
	keys, chain, err := d.Keys()
	if err != nil {
		return nil, err
	}
	defer keys.Wipe()
	return SignEnvelope(d.rec.DeviceID, context, keys.Sig, chain, content, now)
}

func checkEnvelopeInputs(context string, content []byte) error {
	if len(content) > MaxEnvelopeContent {
		return fmt.Errorf("envelope content is %d bytes, limit %d: %w", len(content), MaxEnvelopeContent, ErrTooLarge)
	}
	if len(context) > MaxEnvelopeContext {
		return fmt.Errorf("envelope context is %d bytes, limit %d: %w", len(context), MaxEnvelopeContext, ErrTooLarge)
	}
	return nil
}

// VerifyEnvelope checks an envelope received on context: the chain must
// lead to an anchor and be valid, unrevoked and allowed by a fresh policy
// now; its leaf must name the claimed device; the signature must verify
// under the leaf's key with context bound. Cheap checks (size, structure,
// context, policy freshness) come before the chain and signature checks.
func (t *Trust) VerifyEnvelope(data []byte, context string, now time.Time) (*SignedContent, error) {
	if len(context) > MaxEnvelopeContext {
		return nil, fmt.Errorf("envelope context is %d bytes, limit %d: %w", len(context), MaxEnvelopeContext, ErrTooLarge)
	}
	obj, c, err := parseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if c.Context != context {
		return nil, fmt.Errorf("envelope for %q received on %q: %w", c.Context, context, ErrContextMismatch)
	}
	if time.Unix(c.Timestamp, 0).After(now.Add(envelopeSkew)) {
		return nil, fmt.Errorf("envelope signed at %d, in the future: %w", c.Timestamp, ErrNotYetValid)
	}
	if err := t.CheckHighRisk(now); err != nil {
		return nil, err
	}
	leaf, err := t.VerifyDevice(c.Chain, now)
	if err != nil {
		return nil, err
	}
	if leaf.Subject != c.DeviceID {
		return nil, fmt.Errorf("envelope claims %q, chain certifies %q: %w", c.DeviceID, leaf.Subject, ErrContextMismatch)
	}
	if err := obj.verify(leaf.SigKey, []byte(context)); err != nil {
		return nil, err
	}
	return &SignedContent{DeviceID: leaf.Subject, Context: c.Context, SignedAt: time.Unix(c.Timestamp, 0),
		Content: bytes.Clone(c.Content), Cert: leaf}, nil
}

// parseEnvelope decodes and checks the structure; nothing cryptographic.
func parseEnvelope(data []byte) (*signedObject, *EnvelopeClaims, error) {
	obj, err := parseSigned(data, KindSigned, maxEnvelopeSize)
	if err != nil {
		return nil, nil, err
	}
	var c EnvelopeClaims
	if err := unmarshalCanonical(obj.payload, &c); err != nil {
		return nil, nil, fmt.Errorf("envelope: %w", err)
	}
	if !ValidID(c.DeviceID) || len(c.Chain) == 0 {
		return nil, nil, fmt.Errorf("envelope device id %q or chain: %w", c.DeviceID, ErrMalformed)
	}
	if err := checkEnvelopeInputs(c.Context, c.Content); err != nil {
		return nil, nil, err
	}
	return obj, &c, nil
}
