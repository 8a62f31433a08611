package coap

import (
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/veraison/go-cose"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// Signed-mode protected header labels of our own (RFC 9052 §3.1 leaves
// labels below -65536 to private use).
const (
	hdrSender int64 = -70100 // tstr: the signer's device id
	hdrSeq    int64 = -70101 // uint: the signer's sequence number, > 0
	hdrCode   int64 = -70102 // uint: a request's real method (the outer code is outerCode of it)
)

// cfCOSESign1 is the Content-Format of a signed-mode payload:
// application/cose; cose-type="cose-sign1" (RFC 9052 §9.1).
const cfCOSESign1 = 18

// maxSignedOverhead bounds what a COSE_Sign1 adds to a payload: the
// largest signature we know (Falcon-1024 and ML-DSA-87 are below 4.7 KB)
// and the header.
const maxSignedOverhead = 5 << 10

// coseAlgs repeats core/identity's COSE algorithm identifiers, which that
// package keeps unexported; TestCOSEAlgsMatchIdentity keeps them equal.
var coseAlgs = map[string]cose.Algorithm{
	"ML-DSA-44": -48, "ML-DSA-65": -49, "ML-DSA-87": -50, "Ed25519": cose.AlgorithmEdDSA,
	"Falcon-512": -70001, "Falcon-1024": -70002,
	"Dilithium2": -70012, "Dilithium3": -70013, "Dilithium5": -70015,
}

type coseSigner struct {
	alg cose.Algorithm
	s   pqc.Signature
	sk  []byte
}

func (s coseSigner) Algorithm() cose.Algorithm { return s.alg }
func (s coseSigner) Sign(_ io.Reader, content []byte) ([]byte, error) {
	return s.s.Sign(s.sk, content)
}

type coseVerifier struct {
	alg cose.Algorithm
	s   pqc.Signature
	pk  []byte
}

func (v coseVerifier) Algorithm() cose.Algorithm { return v.alg }
func (v coseVerifier) Verify(content, sig []byte) error {
	return v.s.Verify(v.pk, content, sig)
}

// signedCodec makes and checks signed-mode payloads.
type signedCodec struct {
	id    string
	keyID []byte
	sign  coseSigner
	seq   *seqSource
	peers session.PeerKeys
	now   func() time.Time
	max   int
}

func newSignedCodec(l *session.Local, peers session.PeerKeys, seq *seqSource, now func() time.Time, maxPayload int) (*signedCodec, error) {
	k := l.Current
	alg, ok := coseAlgs[k.Sig.Public.Alg]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no COSE identifier", ErrConfig, k.Sig.Public.Alg)
	}
	s, err := pqc.SignatureByName(k.Sig.Public.Alg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return &signedCodec{id: l.ID, keyID: k.KeyID, sign: coseSigner{alg: alg, s: s, sk: k.Sig.Secret()},
		seq: seq, peers: peers, now: now, max: maxPayload + maxSignedOverhead}, nil
}

// seal signs payload with the binding of m as external data: the COSE
// payload is the application payload, the binding is not carried but
// recomputed by the verifier from the message it received.
func (c *signedCodec) seal(role int, m *meta, cf int, reqDigest, payload []byte) ([]byte, error) {
	seq, err := c.seq.Next()
	if err != nil {
		return nil, err
	}
	msg := cose.NewSign1Message()
	h := msg.Headers.Protected
	h.SetAlgorithm(c.sign.alg)
	h[cose.HeaderLabelKeyID] = c.keyID
	h[hdrSender] = c.id
	h[hdrSeq] = seq
	if cf != NoContentFormat {
		h[cose.HeaderLabelContentType] = uint64(cf)
	}
	if role == roleRequest {
		h[hdrCode] = uint64(m.code)
	}
	msg.Payload = payload
	if msg.Payload == nil {
		msg.Payload = []byte{} // attached and empty, not detached
	}
	if err := msg.Sign(rand.Reader, binding(role, m, cf, reqDigest), c.sign); err != nil {
		return nil, fmt.Errorf("coap: sign: %w", err)
	}
	return msg.MarshalCBOR()
}

// signedMsg is a parsed signed-mode payload whose signature is unchecked.
type signedMsg struct {
	msg    cose.Sign1Message
	alg    cose.Algorithm
	sender string
	keyID  []byte
	seq    uint64
	cf     int
	code   codes.Code // a request's real method; 0 in responses
}

// parseSigned checks size and structure only: exactly the header fields
// we write, no unprotected header, an attached payload.
func parseSigned(data []byte, max int) (*signedMsg, error) {
	if len(data) > max {
		return nil, fmt.Errorf("%w: %d-byte signed payload, limit %d", ErrTooLarge, len(data), max)
	}
	var s signedMsg
	if err := s.msg.UnmarshalCBOR(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	h := s.msg.Headers.Protected
	if len(s.msg.Headers.Unprotected) != 0 || s.msg.Payload == nil {
		return nil, fmt.Errorf("%w: unprotected header or detached payload", ErrMalformed)
	}
	var err error
	if s.alg, err = h.Algorithm(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	s.keyID, _ = h[cose.HeaderLabelKeyID].([]byte)
	s.sender, _ = h[hdrSender].(string)
	seq, okSeq := uintOf(h[hdrSeq])
	s.seq, s.cf = seq, NoContentFormat
	want := 4
	if v, ok := h[cose.HeaderLabelContentType]; ok {
		cf, okCF := uintOf(v)
		if !okCF || cf > 0xffff {
			return nil, fmt.Errorf("%w: content format %v", ErrMalformed, v)
		}
		s.cf, want = int(cf), want+1
	}
	if v, ok := h[hdrCode]; ok {
		code, okCode := uintOf(v)
		if !okCode || !isRequestCode(codes.Code(code)) {
			return nil, fmt.Errorf("%w: method %v", ErrMalformed, v)
		}
		s.code, want = codes.Code(code), want+1
	}
	if len(s.keyID) != session.KeyIDSize || !session.ValidID(s.sender) || !okSeq || seq == 0 || len(h) != want {
		return nil, fmt.Errorf("%w: protected header must hold alg, kid, sender, seq and optionally content type", ErrMalformed)
	}
	return &s, nil
}

func uintOf(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint64:
		return x, true
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// verify checks the signature with the signer's certified key (current
// epoch, or previous within the overlap, not revoked).
func (c *signedCodec) verify(s *signedMsg, external []byte) error {
	pub, err := c.peers.SigningKey(s.sender, s.keyID, c.now())
	if err != nil {
		return fmt.Errorf("%w: signer %s: %w", ErrAuth, s.sender, err)
	}
	alg, ok := coseAlgs[pub.Alg]
	if !ok || alg != s.alg {
		return fmt.Errorf("%w: %s signs with %s, header says %d", ErrAuth, s.sender, pub.Alg, s.alg)
	}
	sch, err := pqc.SignatureByName(pub.Alg)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	if err := s.msg.Verify(external, coseVerifier{alg: alg, s: sch, pk: pub.Key}); err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	return nil
}

// open parses and verifies a signed payload for a message with meta m.
// The replay window is the caller's: requests use one, responses are
// bound to their request instead. A request's m.code is the outer code on
// entry and the verified real method on success.
func (c *signedCodec) open(data []byte, role int, m *meta, reqDigest []byte, precheck func(*signedMsg) error) (*signedMsg, error) {
	s, err := parseSigned(data, c.max)
	if err != nil {
		return nil, err
	}
	if (role == roleRequest) != (s.code != 0) {
		return nil, fmt.Errorf("%w: method field in a %d-role message", ErrMalformed, role)
	}
	if role == roleRequest {
		if m.code != outerCode(s.code) {
			return nil, fmt.Errorf("%w: outer %v for method %v", ErrBinding, m.code, s.code)
		}
		m.code = s.code
	}
	if precheck != nil {
		if err := precheck(s); err != nil {
			return nil, err
		}
	}
	if err := c.verify(s, binding(role, m, s.cf, reqDigest)); err != nil {
		return nil, err
	}
	return s, nil
}

// signerIs reports whether s was signed by the expected peer (any peer
// when want is empty).
func signerIs(s *signedMsg, want string) error {
	if want != "" && s.sender != want {
		return fmt.Errorf("%w: signed by %s, expected %s", ErrUnknownPeer, s.sender, want)
	}
	return nil
}
