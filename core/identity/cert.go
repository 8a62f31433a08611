package identity

import (
	"bytes"
	"fmt"
	"regexp"
	"time"
)

// certVersion is the claims format version; an unknown version is refused.
const certVersion = 1

// TopicPermission grants publish and/or subscribe on an MQTT topic filter or
// a CoAP path prefix.
type TopicPermission struct {
	Filter    string `cbor:"1,keyasint"`
	Publish   bool   `cbor:"2,keyasint,omitempty"`
	Subscribe bool   `cbor:"3,keyasint,omitempty"`
}

// Claims are the contents of an operational certificate. Keys 1-7 are the
// CWT registered claims (RFC 8392); negative keys are ours.
type Claims struct {
	Issuer    string            `cbor:"1,keyasint"`            // iss: the issuing CA's subject
	Subject   string            `cbor:"2,keyasint"`            // sub: device id or CA name
	Expiry    int64             `cbor:"4,keyasint"`            // exp, Unix seconds
	NotBefore int64             `cbor:"5,keyasint"`            // nbf
	IssuedAt  int64             `cbor:"6,keyasint"`            // iat
	Serial    []byte            `cbor:"7,keyasint"`            // cti: unique per certificate
	Version   uint              `cbor:"-1,keyasint"`           // claims format version
	Epoch     uint64            `cbor:"-2,keyasint"`           // key epoch, +1 per rotation
	KeyID     []byte            `cbor:"-3,keyasint"`           // hash of SigKey and KEMKeys
	SigKey    PublicKey         `cbor:"-4,keyasint"`           // the subject's signature key
	KEMKeys   []PublicKey       `cbor:"-5,keyasint,omitempty"` // the subject's KEM keys
	Roles     []string          `cbor:"-6,keyasint,omitempty"`
	Topics    []TopicPermission `cbor:"-7,keyasint,omitempty"`
	CA        bool              `cbor:"-8,keyasint,omitempty"`
	PathLen   uint              `cbor:"-9,keyasint,omitempty"` // CAs allowed below this one
}

// Certificate is a parsed, structurally valid operational certificate. Its
// signature is checked only by VerifyChain.
type Certificate struct {
	Claims
	Raw    []byte // the COSE_Sign1 bytes as received
	signed *signedObject
}

// idPattern is the syntax of device ids and CA names: checked before any
// other parsing or use in topics and store keys.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// ValidID reports whether s is acceptable as a device id or CA name.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// computeKeyID binds the whole key set: the signature key and every KEM key.
func computeKeyID(sig PublicKey, kems []PublicKey) []byte {
	if kems == nil { // nil and empty are the same key set
		kems = []PublicKey{}
	}
	enc, _ := marshal([]any{sig, kems})
	return PublicKey{Alg: "key-set", Key: enc}.ID()
}

// ParseCertificate decodes a certificate and checks its structure: size,
// canonical CBOR, version, ids, key sizes, the key id, the validity order.
func ParseCertificate(data []byte) (*Certificate, error) {
	obj, err := parseSigned(data, KindCertificate, MaxObjectSize)
	if err != nil {
		return nil, err
	}
	var c Claims
	if err := unmarshalCanonical(obj.payload, &c); err != nil {
		return nil, fmt.Errorf("certificate claims: %w", err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &Certificate{Claims: c, Raw: bytes.Clone(data), signed: obj}, nil
}

func (c *Claims) check() error {
	switch {
	case c.Version != certVersion:
		return fmt.Errorf("certificate version %d: %w", c.Version, ErrMalformed)
	case !ValidID(c.Subject) || !ValidID(c.Issuer):
		return fmt.Errorf("certificate subject %q / issuer %q: invalid id: %w", c.Subject, c.Issuer, ErrMalformed)
	case c.NotBefore >= c.Expiry:
		return fmt.Errorf("certificate validity ends before it starts: %w", ErrMalformed)
	case len(c.Serial) == 0 || len(c.Serial) > 32:
		return fmt.Errorf("certificate serial of %d bytes: %w", len(c.Serial), ErrMalformed)
	case len(c.KEMKeys) > 4 || len(c.Roles) > 32 || len(c.Topics) > 256:
		return fmt.Errorf("certificate has too many keys, roles or topics: %w", ErrMalformed)
	}
	if err := c.SigKey.checkSignatureKey(); err != nil {
		return err
	}
	for _, k := range c.KEMKeys {
		if err := k.checkKEMKey(); err != nil {
			return err
		}
	}
	if !bytes.Equal(c.KeyID, computeKeyID(c.SigKey, c.KEMKeys)) {
		return fmt.Errorf("certificate key id does not match its keys: %w", ErrMalformed)
	}
	return nil
}

// ValidAt checks the validity period.
func (c *Certificate) ValidAt(now time.Time) error {
	t := now.Unix()
	if t < c.NotBefore {
		return fmt.Errorf("%s (epoch %d) valid from %s: %w", c.Subject, c.Epoch, time.Unix(c.NotBefore, 0).UTC(), ErrNotYetValid)
	}
	if t >= c.Expiry {
		return fmt.Errorf("%s (epoch %d) expired %s: %w", c.Subject, c.Epoch, time.Unix(c.Expiry, 0).UTC(), ErrExpired)
	}
	return nil
}

// KEMKey returns the certified KEM public key for alg.
func (c *Certificate) KEMKey(alg string) (PublicKey, bool) {
	for _, k := range c.KEMKeys {
		if k.Alg == alg {
			return k, true
		}
	}
	return PublicKey{}, false
}

// Chain is a certificate chain, leaf first, without the trust anchor.
type Chain []*Certificate

// EncodeChain serializes certificates (leaf first) as a CBOR array of the
// COSE_Sign1 byte strings.
func EncodeChain(chain Chain) ([]byte, error) {
	raws := make([][]byte, len(chain))
	for i, c := range chain {
		raws[i] = c.Raw
	}
	return marshal(raws)
}

// ParseChain decodes an encoded chain and each certificate in it.
func ParseChain(data []byte) (Chain, error) {
	if len(data) > maxChainLength*MaxObjectSize {
		return nil, fmt.Errorf("chain of %d bytes: %w", len(data), ErrTooLarge)
	}
	var raws [][]byte
	if err := unmarshalCanonical(data, &raws); err != nil {
		return nil, fmt.Errorf("certificate chain: %w", err)
	}
	if len(raws) == 0 || len(raws) > maxChainLength {
		return nil, fmt.Errorf("chain of %d certificates: %w", len(raws), ErrMalformed)
	}
	chain := make(Chain, len(raws))
	for i, raw := range raws {
		c, err := ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("chain element %d: %w", i, err)
		}
		chain[i] = c
	}
	return chain, nil
}
