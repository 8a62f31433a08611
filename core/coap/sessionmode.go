package coap

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// Session contexts: a session made for one use is refused for the other.
const (
	ctxSession = "pqc-iiot/coap/session/v1"
	ctxOSCORE  = "pqc-iiot/coap/oscore/v1"
)

// Session-mode plaintext: the session frame carries
//
//	version (1) | flags (1) | content-format (2) | method (1) | SHA-256(binding) (32) | payload
//
// method is a request's real method (the outer code is outerCode of it),
// 0 in responses.
//
// The session engine authenticates the plaintext under its fixed context;
// the digest ties it to the code, path, query, options, token and (for a
// response) the request, which the receiver recomputes from the CoAP
// message it got.
const (
	envVersion    = 0x01
	envFlagCF     = 0x01
	envHeaderSize = 5 + sha256.Size
)

func sealEnvelope(s *session.Session, role int, m *meta, cf int, reqDigest, payload []byte) ([]byte, error) {
	pt := make([]byte, envHeaderSize, envHeaderSize+len(payload))
	pt[0] = envVersion
	if cf != NoContentFormat {
		pt[1] = envFlagCF
		binary.BigEndian.PutUint16(pt[2:4], uint16(cf))
	}
	if role == roleRequest {
		pt[4] = byte(m.code)
	}
	d := sha256.Sum256(binding(role, m, cf, reqDigest))
	copy(pt[5:], d[:])
	pt = append(pt, payload...)
	wire := *m
	if role == roleRequest {
		wire.code = outerCode(m.code)
	}
	f, err := s.ProtectBound(pt, outerBinding(role, &wire, reqDigest))
	if err != nil {
		return nil, fmt.Errorf("coap: session protect: %w", err)
	}
	return f, nil
}

// outerBinding is what the session frame's AEAD is bound to: everything
// of the message the receiver sees before decrypting (outer code, path,
// query, options, token, the request for a response). A frame moved to
// another path, code or token then fails the tag check, which changes no
// session state, so the genuine frame still opens afterwards. The inner
// method and Content-Format travel in the plaintext and are checked
// against the digest there (openEnvelope).
func outerBinding(role int, wire *meta, reqDigest []byte) []byte {
	d := sha256.Sum256(binding(role, wire, NoContentFormat, reqDigest))
	return d[:]
}

// parseEnvelope splits a decrypted plaintext; it is a decoder of
// authenticated bytes, fuzzed all the same.
func parseEnvelope(pt []byte) (cf int, code codes.Code, sum, payload []byte, err error) {
	if len(pt) < envHeaderSize {
		return 0, 0, nil, nil, fmt.Errorf("%w: %d-byte session plaintext", ErrMalformed, len(pt))
	}
	if pt[0] != envVersion || pt[1]&^envFlagCF != 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: envelope version %d flags %#x", ErrMalformed, pt[0], pt[1])
	}
	cf = NoContentFormat
	if pt[1]&envFlagCF != 0 {
		cf = int(binary.BigEndian.Uint16(pt[2:4]))
	} else if pt[2] != 0 || pt[3] != 0 {
		return 0, 0, nil, nil, fmt.Errorf("%w: content format without flag", ErrMalformed)
	}
	code = codes.Code(pt[4])
	if code != 0 && !isRequestCode(code) {
		return 0, 0, nil, nil, fmt.Errorf("%w: method %v", ErrMalformed, code)
	}
	return cf, code, pt[5:envHeaderSize], pt[envHeaderSize:], nil
}

// openEnvelope checks a decrypted plaintext against the message it came
// in; for a request, m.code goes from the outer code to the real method.
func openEnvelope(pt []byte, role int, m *meta, reqDigest []byte) (int, []byte, error) {
	cf, code, sum, payload, err := parseEnvelope(pt)
	if err != nil {
		return 0, nil, err
	}
	if (role == roleRequest) != (code != 0) {
		return 0, nil, fmt.Errorf("%w: method field in a %d-role message", ErrMalformed, role)
	}
	if role == roleRequest {
		if m.code != outerCode(code) {
			return 0, nil, fmt.Errorf("%w: outer %v for method %v", ErrBinding, m.code, code)
		}
		m.code = code
	}
	want := sha256.Sum256(binding(role, m, cf, reqDigest))
	if !bytes.Equal(sum, want[:]) {
		return 0, nil, ErrBinding
	}
	return cf, payload, nil
}

// sessionTable is the server's bounded set of sessions: at most max, least
// recently used dropped first, idle ones dropped after idle. Dropped
// sessions are closed (keys wiped); their clients re-handshake.
type sessionTable struct {
	mu   sync.Mutex
	max  int
	idle time.Duration
	now  func() time.Time
	// live reports whether the session engine still holds a session: it
	// closes sessions itself (peer revoked, suite no longer allowed).
	live func(id [session.SessionIDSize]byte) bool
	m    map[[session.SessionIDSize]byte]*list.Element
	lru  *list.List // front: most recently used
}

type tableEntry struct {
	s    *session.Session
	used time.Time
}

func newSessionTable(max int, idle time.Duration, now func() time.Time, live func([session.SessionIDSize]byte) bool) *sessionTable {
	return &sessionTable{max: max, idle: idle, now: now, live: live, m: map[[session.SessionIDSize]byte]*list.Element{}, lru: list.New()}
}

// add inserts or refreshes s and returns the sessions evicted to make room.
func (t *sessionTable) add(s *session.Session) {
	var evicted []*session.Session
	t.mu.Lock()
	if e, ok := t.m[s.ID()]; ok {
		e.Value.(*tableEntry).used = t.now()
		t.lru.MoveToFront(e)
	} else {
		t.m[s.ID()] = t.lru.PushFront(&tableEntry{s: s, used: t.now()})
	}
	for t.lru.Len() > t.max {
		evicted = append(evicted, t.removeLocked(t.lru.Back()))
	}
	evicted = append(evicted, t.expireLocked()...)
	t.mu.Unlock()
	for _, v := range evicted {
		v.Close()
	}
}

// get returns a live session and marks it used.
func (t *sessionTable) get(id [session.SessionIDSize]byte) (*session.Session, bool) {
	t.mu.Lock()
	expired := t.expireLocked()
	e, ok := t.m[id]
	switch {
	case ok && !t.live(id):
		expired = append(expired, t.removeLocked(e))
		ok = false
	case ok:
		e.Value.(*tableEntry).used = t.now()
		t.lru.MoveToFront(e)
	}
	t.mu.Unlock()
	for _, v := range expired {
		v.Close()
	}
	if !ok {
		return nil, false
	}
	return e.Value.(*tableEntry).s, true
}

// peek reports whether id is held, without marking it used.
func (t *sessionTable) peek(id [session.SessionIDSize]byte) (*session.Session, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok || !t.live(id) {
		return nil, false
	}
	return e.Value.(*tableEntry).s, true
}

// expireLocked drops idle sessions from the back (oldest use first).
func (t *sessionTable) expireLocked() []*session.Session {
	var out []*session.Session
	cut := t.now().Add(-t.idle)
	for e := t.lru.Back(); e != nil && e.Value.(*tableEntry).used.Before(cut); e = t.lru.Back() {
		out = append(out, t.removeLocked(e))
	}
	return out
}

func (t *sessionTable) removeLocked(e *list.Element) *session.Session {
	te := e.Value.(*tableEntry)
	t.lru.Remove(e)
	delete(t.m, te.s.ID())
	return te.s
}

func (t *sessionTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

// closeAll empties the table.
func (t *sessionTable) closeAll() {
	t.mu.Lock()
	var all []*session.Session
	for t.lru.Len() > 0 {
		all = append(all, t.removeLocked(t.lru.Back()))
	}
	t.mu.Unlock()
	for _, s := range all {
		s.Close()
	}
}
