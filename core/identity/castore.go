package identity

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/veraison/go-cose"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// Record names of a CA's keystore.
const (
	recCAKey       = "ca/key"
	recCACert      = "ca/cert"
	recAllowPrefix = "ca/allow/"
	recSeenPrefix  = "ca/seen/"
	recSeenFloor   = "ca/seen-floor" // latest window end among forgotten request ids
	recCARevoked   = "ca/revoked"
	ctrPolicySeq   = "ca/policy-seq"
)

type caKeyRecord struct {
	Pub PublicKey `cbor:"1,keyasint"`
	Sec []byte    `cbor:"2,keyasint"`
}

type allowRecord struct {
	FactoryKey PublicKey         `cbor:"1,keyasint"`
	Roles      []string          `cbor:"2,keyasint,omitempty"`
	Topics     []TopicPermission `cbor:"3,keyasint,omitempty"`
}

type revokedRecord struct {
	Sequence uint64   `cbor:"1,keyasint"`
	KeyIDs   [][]byte `cbor:"2,keyasint"`
}

// CAStore is a CA kept in an encrypted keystore with its allow-list,
// the request ids it has seen, its policy sequence counter and its
// cumulative revocation list.
type CAStore struct {
	st *store.Store
	CA *CA
}

// InitCA creates a root CA in an empty keystore.
func InitCA(st *store.Store, name, alg string, now time.Time, validity time.Duration, pathLen uint) (*CAStore, error) {
	if _, err := st.Get(recCACert); err == nil {
		return nil, errors.New("store already holds a CA")
	}
	ca, err := NewRootCA(name, alg, now, validity, pathLen)
	if err != nil {
		return nil, err
	}
	err = st.Update(func(tx *store.Tx) error {
		if err := txPutCBOR(tx, recCAKey, caKeyRecord{Pub: ca.Key.Public, Sec: ca.Key.secret}); err != nil {
			return err
		}
		return tx.Put(recCACert, ca.Cert.Raw)
	})
	if err != nil {
		return nil, err
	}
	return &CAStore{st: st, CA: ca}, nil
}

// OpenCA loads the CA kept in st.
func OpenCA(st *store.Store) (*CAStore, error) {
	raw, err := st.Get(recCACert)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := ParseCertificate(raw)
	if err != nil {
		return nil, err
	}
	var k caKeyRecord
	if err := getCBOR(st, recCAKey, &k); err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	key, err := SigningKeyFromBytes(k.Pub, k.Sec)
	clear(k.Sec)
	if err != nil {
		return nil, err
	}
	return &CAStore{st: st, CA: &CA{Cert: cert, Key: key}}, nil
}

// Close wipes the CA key from memory.
func (c *CAStore) Close() { c.CA.Key.Wipe() }

// Allow puts a device on the allow-list (replacing an earlier entry).
func (c *CAStore) Allow(dev AllowedDevice) error {
	if !ValidID(dev.DeviceID) {
		return fmt.Errorf("device id %q: %w", dev.DeviceID, ErrMalformed)
	}
	if err := dev.FactoryKey.checkSignatureKey(); err != nil {
		return err
	}
	return putCBOR(c.st, recAllowPrefix+dev.DeviceID, allowRecord{FactoryKey: dev.FactoryKey, Roles: dev.Roles, Topics: dev.Topics})
}

func (c *CAStore) allowList() ([]AllowedDevice, error) {
	names, err := c.st.List(recAllowPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]AllowedDevice, 0, len(names))
	for _, n := range names {
		var r allowRecord
		if err := getCBOR(c.st, n, &r); err != nil {
			return nil, err
		}
		out = append(out, AllowedDevice{DeviceID: strings.TrimPrefix(n, recAllowPrefix), FactoryKey: r.FactoryKey, Roles: r.Roles, Topics: r.Topics})
	}
	return out, nil
}

// Enroll processes a join or a renewal request (told apart by their
// content type) and returns the encoded certificate chain.
func (c *CAStore) Enroll(req []byte, validity, window time.Duration, now time.Time) ([]byte, error) {
	allowed, err := c.allowList()
	if err != nil {
		return nil, err
	}
	revoked, err := c.revoked()
	if err != nil {
		return nil, err
	}
	e := &Enroller{
		CA: c.CA, Anchors: []*Certificate{c.CA.Cert}, Allowed: allowed,
		Replay: storeReplayGuard{c.st}, Window: window, Validity: validity,
		IsRevoked: func(id []byte) bool { return containsID(revoked.KeyIDs, id) },
	}
	kind, err := KindOf(req)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindJoinRequest:
		return e.Enroll(req, now)
	case KindRenewRequest:
		return e.Renew(req, now)
	default:
		return nil, fmt.Errorf("%s is not a join or renewal request: %w", kind, ErrWrongKind)
	}
}

// SignPolicy signs claims with the next policy sequence number.
func (c *CAStore) SignPolicy(claims PolicyClaims) ([]byte, error) {
	seq, err := c.st.Increment(ctrPolicySeq, 1)
	if err != nil {
		return nil, err
	}
	claims.Sequence = seq
	return SignPolicy(c.CA, claims)
}

// Revoke adds key ids to the cumulative list and signs the whole list with
// the next sequence number.
func (c *CAStore) Revoke(keyIDs [][]byte, now time.Time) ([]byte, error) {
	for _, id := range keyIDs {
		if len(id) != keyIDSize {
			return nil, fmt.Errorf("key id %x is not %d bytes: %w", id, keyIDSize, ErrMalformed)
		}
	}
	var out []byte
	err := c.st.Update(func(tx *store.Tx) error {
		var r revokedRecord
		if err := txGetCBOR(tx, recCARevoked, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.Sequence++
		r.KeyIDs = append(r.KeyIDs, keyIDs...)
		signed, err := SignRevocation(c.CA, r.Sequence, now.Unix(), r.KeyIDs)
		if err != nil {
			return err
		}
		parsed, err := ParseRevocation(signed, []*Certificate{c.CA.Cert})
		if err != nil {
			return err
		}
		r.KeyIDs = parsed.KeyIDs // sorted and unique, as signed
		out = signed
		return txPutCBOR(tx, recCARevoked, r)
	})
	return out, err
}

func (c *CAStore) revoked() (revokedRecord, error) {
	var r revokedRecord
	if err := getCBOR(c.st, recCARevoked, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
		return r, err
	}
	return r, nil
}

func containsID(ids [][]byte, id []byte) bool {
	for _, x := range ids {
		if string(x) == string(id) {
			return true
		}
	}
	return false
}

// storeReplayGuard keeps seen request ids in the CA's keystore, so a
// restarted CA still refuses a replay.
type storeReplayGuard struct{ st *store.Store }

func (g storeReplayGuard) Remember(id []byte, now, until time.Time) (bool, error) {
	name := recSeenPrefix + hex.EncodeToString(id)
	seen := false
	err := g.st.Update(func(tx *store.Tx) error {
		if _, err := tx.Get(name); err == nil {
			seen = true
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		floor, err := seenFloor(tx)
		if err != nil {
			return err
		}
		// The id may have been forgotten by a prune (clock forward, then
		// back): refuse what the store can no longer vouch for.
		if until.Unix() <= floor {
			seen = true
			return nil
		}
		if err := pruneSeen(tx, now, floor); err != nil {
			return err
		}
		return txPutCBOR(tx, name, until.Unix())
	})
	return seen, err
}

func seenFloor(tx *store.Tx) (int64, error) {
	var floor int64
	if err := txGetCBOR(tx, recSeenFloor, &floor); err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	return floor, nil
}

// pruneSeen forgets request ids whose window has closed, so the store
// stays bounded, and raises the floor to the latest window it forgot.
func pruneSeen(tx *store.Tx, now time.Time, floor int64) error {
	names, err := tx.List(recSeenPrefix)
	if err != nil {
		return err
	}
	raised := floor
	for _, n := range names {
		var until int64
		if err := txGetCBOR(tx, n, &until); err != nil {
			return err
		}
		if now.Unix() > until {
			if err := tx.Delete(n); err != nil {
				return err
			}
			raised = max(raised, until)
		}
	}
	if raised == floor {
		return nil
	}
	return txPutCBOR(tx, recSeenFloor, raised)
}

// KindOf reads the content type of a signed object without verifying it.
func KindOf(data []byte) (Kind, error) {
	if len(data) > MaxRevocationSize {
		return "", ErrTooLarge
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(data); err != nil {
		return "", fmt.Errorf("%w: not a COSE_Sign1 object: %v", ErrMalformed, err)
	}
	ct, ok := msg.Headers.Protected[cose.HeaderLabelContentType].(string)
	if !ok {
		return "", fmt.Errorf("%w: no content type", ErrMalformed)
	}
	return Kind(ct), nil
}

// Describe decodes a signed object of a known kind into its claims and,
// when anchors are given, verifies what can be verified offline: the
// signature of policies and revocation lists by an anchor, the chain and
// signature of announcements, both signatures of requests. Claims are
// returned even when verification fails.
func Describe(data []byte, kind Kind, anchors []*Certificate, now time.Time) (any, error) {
	switch kind {
	case KindCertificate:
		c, err := ParseCertificate(data)
		if err != nil {
			return nil, err
		}
		if anchors == nil {
			return c.Claims, nil
		}
		_, err = VerifyChain(Chain{c}, anchors, VerifyOptions{Now: now})
		if err != nil && isAnchor(c, anchors) {
			err = nil
		}
		return c.Claims, err
	case KindPolicy:
		return describeSigned(data, kind, MaxObjectSize, &PolicyClaims{}, anchors, func() error {
			_, err := ParsePolicy(data, anchors)
			return err
		})
	case KindRevocation:
		return describeSigned(data, kind, MaxRevocationSize, &RevocationClaims{}, anchors, func() error {
			_, err := ParseRevocation(data, anchors)
			return err
		})
	case KindAnnouncement:
		return describeSigned(data, kind, maxChainLength*MaxObjectSize+MaxObjectSize, &AnnouncementClaims{}, anchors, func() error {
			t := &Trust{anchors: anchors, peers: map[string]*Peer{}}
			obj, c, err := parseAnnouncement(data, announcementTopic(data))
			if err != nil {
				return err
			}
			_, err = t.verifyAnnouncement(obj, c, now)
			return err
		})
	case KindSigned:
		// Offline: the chain (anchors, validity) and the signature under
		// the context the envelope names; policy and revocation are the
		// receiving device's business (Trust.VerifyEnvelope).
		obj, c, err := parseEnvelope(data)
		if err != nil || anchors == nil {
			return c, err
		}
		leaf, err := (&Trust{anchors: anchors, peers: map[string]*Peer{}}).VerifyDevice(c.Chain, now)
		if err != nil {
			return c, err
		}
		if leaf.Subject != c.DeviceID {
			return c, fmt.Errorf("envelope claims %q, chain certifies %q: %w", c.DeviceID, leaf.Subject, ErrContextMismatch)
		}
		return c, obj.verify(leaf.SigKey, []byte(c.Context))
	case KindJoinRequest, KindRenewRequest:
		inner := KindJoinPoP
		if kind == KindRenewRequest {
			inner = KindRenewPoP
		}
		c, err := openRequest(data, inner, kind)
		if err != nil {
			return nil, err
		}
		return *c, nil
	default:
		return nil, fmt.Errorf("content type %q: %w", kind, ErrWrongKind)
	}
}

func describeSigned(data []byte, kind Kind, limit int, claims any, anchors []*Certificate, verify func() error) (any, error) {
	obj, err := parseSigned(data, kind, limit)
	if err != nil {
		return nil, err
	}
	if err := unmarshalCanonical(obj.payload, claims); err != nil {
		return nil, err
	}
	if anchors == nil {
		return claims, nil
	}
	return claims, verify()
}

func announcementTopic(data []byte) string {
	obj, err := parseSigned(data, KindAnnouncement, maxChainLength*MaxObjectSize+MaxObjectSize)
	if err != nil {
		return ""
	}
	var c AnnouncementClaims
	if unmarshalCanonical(obj.payload, &c) != nil {
		return ""
	}
	return c.Topic
}
