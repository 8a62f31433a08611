package identity

import (
	"crypto/sha256"
	"fmt"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// keyIDSize is the length of key identifiers: a truncated SHA-256, enough to
// make accidental collisions impossible in any fleet.
const keyIDSize = 16

// PublicKey is a public key tagged with its algorithm name.
type PublicKey struct {
	Alg string `cbor:"1,keyasint"`
	Key []byte `cbor:"2,keyasint"`
}

// ID is the key identifier: SHA-256 over the deterministic CBOR of the key,
// truncated to 16 bytes.
func (k PublicKey) ID() []byte {
	enc, _ := marshal(k)
	sum := sha256.Sum256(enc)
	return sum[:keyIDSize]
}

// checkSignatureKey makes sure a signature public key names a known scheme
// and has its exact size.
func (k PublicKey) checkSignatureKey() error {
	s, err := pqc.SignatureByName(k.Alg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if s.Name() != k.Alg || len(k.Key) != s.PublicKeySize() {
		return fmt.Errorf("%s public key of %d bytes: %w", k.Alg, len(k.Key), ErrMalformed)
	}
	return nil
}

func (k PublicKey) checkKEMKey() error {
	kem, err := pqc.KEMByName(k.Alg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if kem.Name() != k.Alg || len(k.Key) != kem.PublicKeySize() {
		return fmt.Errorf("%s public key of %d bytes: %w", k.Alg, len(k.Key), ErrMalformed)
	}
	return nil
}

// KEMKey is a KEM key pair a device holds for receiving sealed messages and
// session handshakes.
type KEMKey struct {
	Public PublicKey
	secret []byte
}

// NewKEMKey generates a key pair for the named KEM.
func NewKEMKey(alg string) (*KEMKey, error) {
	k, err := pqc.KEMByName(alg)
	if err != nil {
		return nil, err
	}
	pk, sk, err := k.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	return &KEMKey{Public: PublicKey{Alg: k.Name(), Key: pk}, secret: sk}, nil
}

// KEMKeyFromBytes rebuilds a key pair loaded from a keystore.
func KEMKeyFromBytes(pub PublicKey, secret []byte) (*KEMKey, error) {
	k, err := pqc.KEMByName(pub.Alg)
	if err != nil {
		return nil, err
	}
	if len(secret) != k.SecretKeySize() || len(pub.Key) != k.PublicKeySize() {
		return nil, fmt.Errorf("%s key pair has wrong sizes: %w", pub.Alg, ErrMalformed)
	}
	return &KEMKey{Public: pub, secret: append([]byte(nil), secret...)}, nil
}

// Secret returns the secret key bytes, for the keystore and session layer.
func (k *KEMKey) Secret() []byte { return k.secret }

// Wipe clears the secret key.
func (k *KEMKey) Wipe() { clear(k.secret); k.secret = nil }

// DefaultKEMs are the KEM keys a device gets unless configured otherwise:
// one X-Wing key, which is ML-KEM-768 and X25519 combined, so a peer gets
// both the post-quantum and the classical component from a single key.
var DefaultKEMs = []string{pqc.HybridKEMName}

// DefaultSignature is the identity signature scheme unless configured.
const DefaultSignature = "ML-DSA-65"

// Encode is the deterministic CBOR of the key, the form key files hold.
func (k PublicKey) Encode() ([]byte, error) { return marshal(k) }

// DecodePublicKey reads a key written by Encode and checks that it names a
// registered signature scheme or KEM and has that scheme's size.
func DecodePublicKey(data []byte) (PublicKey, error) {
	var k PublicKey
	if len(data) > MaxObjectSize {
		return k, ErrTooLarge
	}
	if err := unmarshalCanonical(data, &k); err != nil {
		return k, fmt.Errorf("public key: %w", err)
	}
	if k.checkSignatureKey() != nil && k.checkKEMKey() != nil {
		return k, fmt.Errorf("public key of %d bytes for %q: %w", len(k.Key), k.Alg, ErrMalformed)
	}
	return k, nil
}
