package identity

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/veraison/go-cose"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// Kind is the domain-separation label of a signed object, carried as the
// COSE content type in the protected header.
type Kind string

const (
	KindCertificate  Kind = "application/pqc-iiot.cert+cbor;v=1"
	KindJoinPoP      Kind = "application/pqc-iiot.join-pop+cbor;v=1"
	KindJoinRequest  Kind = "application/pqc-iiot.join+cbor;v=1"
	KindRenewPoP     Kind = "application/pqc-iiot.renew-pop+cbor;v=1"
	KindRenewRequest Kind = "application/pqc-iiot.renew+cbor;v=1"
	KindAnnouncement Kind = "application/pqc-iiot.announce+cbor;v=1"
	KindPolicy       Kind = "application/pqc-iiot.policy+cbor;v=1"
	KindRevocation   Kind = "application/pqc-iiot.revocation+cbor;v=1"
)

// COSE algorithm identifiers. ML-DSA uses the values of
// draft-ietf-cose-dilithium; Ed25519 is EdDSA (RFC 9053). Schemes with no
// registered value use the private-use range (below -65536).
var coseAlgs = map[string]cose.Algorithm{
	"ML-DSA-44":   -48,
	"ML-DSA-65":   -49,
	"ML-DSA-87":   -50,
	"Ed25519":     cose.AlgorithmEdDSA,
	"Falcon-512":  -70001,
	"Falcon-1024": -70002,
	"Dilithium2":  -70012,
	"Dilithium3":  -70013,
	"Dilithium5":  -70015,
}

func coseAlg(name string) (cose.Algorithm, error) {
	s, err := pqc.SignatureByName(name)
	if err != nil {
		return 0, err
	}
	if a, ok := coseAlgs[s.Name()]; ok {
		return a, nil
	}
	return 0, fmt.Errorf("%s has no COSE algorithm identifier: %w", name, pqc.ErrUnsupported)
}

// signer adapts a registry signature scheme and a secret key to go-cose.
type signer struct {
	alg cose.Algorithm
	s   pqc.Signature
	sk  []byte
}

func (s signer) Algorithm() cose.Algorithm { return s.alg }
func (s signer) Sign(_ io.Reader, content []byte) ([]byte, error) {
	return s.s.Sign(s.sk, content)
}

type verifier struct {
	alg cose.Algorithm
	s   pqc.Signature
	pk  []byte
}

func (v verifier) Algorithm() cose.Algorithm { return v.alg }
func (v verifier) Verify(content, sig []byte) error {
	return v.s.Verify(v.pk, content, sig)
}

// SigningKey is a signature key pair held by a CA or a device.
type SigningKey struct {
	Public PublicKey
	secret []byte
}

// NewSigningKey generates a key pair for the named scheme.
func NewSigningKey(alg string) (*SigningKey, error) {
	s, err := pqc.SignatureByName(alg)
	if err != nil {
		return nil, err
	}
	if _, err := coseAlg(alg); err != nil {
		return nil, err
	}
	pk, sk, err := s.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	return &SigningKey{Public: PublicKey{Alg: s.Name(), Key: pk}, secret: sk}, nil
}

// SigningKeyFromBytes rebuilds a key pair loaded from a keystore.
func SigningKeyFromBytes(pub PublicKey, secret []byte) (*SigningKey, error) {
	s, err := pqc.SignatureByName(pub.Alg)
	if err != nil {
		return nil, err
	}
	if len(secret) != s.SecretKeySize() || len(pub.Key) != s.PublicKeySize() {
		return nil, fmt.Errorf("%s key pair has wrong sizes: %w", pub.Alg, ErrMalformed)
	}
	return &SigningKey{Public: pub, secret: bytes.Clone(secret)}, nil
}

// Secret returns the secret key bytes, for the keystore only.
func (k *SigningKey) Secret() []byte { return k.secret }

// Wipe clears the secret key; the key cannot sign afterwards.
func (k *SigningKey) Wipe() { clear(k.secret); k.secret = nil }

// sign wraps payload in a COSE_Sign1 of the given kind. The key id of the
// signing key goes in the protected header so verifiers can pick the key;
// external is additional data bound into the signature but not carried.
func (k *SigningKey) sign(kind Kind, payload, external []byte) ([]byte, error) {
	if k.secret == nil {
		return nil, errors.New("identity: signing key was wiped")
	}
	s, err := pqc.SignatureByName(k.Public.Alg)
	if err != nil {
		return nil, err
	}
	alg, err := coseAlg(k.Public.Alg)
	if err != nil {
		return nil, err
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	msg.Headers.Protected[cose.HeaderLabelContentType] = string(kind)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = k.Public.ID()
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, external, signer{alg: alg, s: s, sk: k.secret}); err != nil {
		return nil, fmt.Errorf("identity: sign %s: %w", kind, err)
	}
	return msg.MarshalCBOR()
}

// signedObject is a parsed COSE_Sign1 whose signature is not yet checked.
type signedObject struct {
	msg     *cose.Sign1Message
	alg     cose.Algorithm
	keyID   []byte
	payload []byte
}

// parseSigned checks size, structure and kind of a COSE_Sign1. It verifies
// nothing cryptographic: call verify with the key the context dictates.
func parseSigned(data []byte, kind Kind, maxSize int) (*signedObject, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("%s is %d bytes, limit %d: %w", kind, len(data), maxSize, ErrTooLarge)
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(data); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", kind, ErrMalformed, err)
	}
	ct, ok := msg.Headers.Protected[cose.HeaderLabelContentType].(string)
	if !ok || Kind(ct) != kind {
		return nil, fmt.Errorf("expected %s, got content type %v: %w", kind, msg.Headers.Protected[cose.HeaderLabelContentType], ErrWrongKind)
	}
	if len(msg.Headers.Unprotected) != 0 {
		return nil, fmt.Errorf("%s: unprotected header not allowed: %w", kind, ErrMalformed)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", kind, ErrMalformed, err)
	}
	kid, _ := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	if len(kid) != keyIDSize || len(msg.Headers.Protected) != 3 {
		return nil, fmt.Errorf("%s: protected header must hold exactly alg, content type and a %d-byte kid: %w", kind, keyIDSize, ErrMalformed)
	}
	return &signedObject{msg: &msg, alg: alg, keyID: kid, payload: msg.Payload}, nil
}

// verify checks the signature with pub, which must be the key the header's
// kid and alg name.
func (o *signedObject) verify(pub PublicKey, external []byte) error {
	alg, err := coseAlg(pub.Alg)
	if err != nil {
		return err
	}
	if alg != o.alg || !bytes.Equal(o.keyID, pub.ID()) {
		return fmt.Errorf("signed by key %x (alg %d), expected %x (alg %d): %w", o.keyID, o.alg, pub.ID(), alg, ErrBadSignature)
	}
	s, _ := pqc.SignatureByName(pub.Alg)
	if err := o.msg.Verify(external, verifier{alg: alg, s: s, pk: pub.Key}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}
