package session

import (
	"bytes"
	"cmp"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Store names used by the manager.
const (
	hsOutPrefix = "session/hs-out/" // counter: our last Init counter to a peer
	hsInPrefix  = "session/hs-in/"  // counter: highest Init counter accepted from a peer
	statePrefix = "session/state/"  // record: a session's snapshot (Resume)
)

// Manager makes and holds sessions: it runs handshakes, routes data frames
// by session id and closes sessions when a peer's key is revoked or policy
// stops allowing the suite. It is safe for concurrent use.
type Manager struct {
	cfg Config

	mu       sync.Mutex
	pending  map[[SessionIDSize]byte]*pending
	sessions map[[SessionIDSize]byte]*Session
	accepted map[string]*acceptedInit // responder: last Init per initiator
	counters map[string]uint64        // handshake counters without a store
	respOf   map[[SessionIDSize]byte][32]byte
	made     uint64 // sessions registered so far: orders them by age
	cancel   func()
	writes   sync.WaitGroup // background snapshot writes in flight
}

// acceptedInit lets an identical retransmitted Init get the identical
// Response without a second session or a second signature.
type acceptedInit struct {
	hash     [32]byte
	response []byte
	session  *Session
}

// Suite used by Initiate: the first of these the policy allows.
var suitePreference = []Suite{SuiteMLKEM768, SuiteMLKEM1024, SuiteSaber}

// NewManager starts a manager; with cfg.Trust it closes sessions whose
// peer key a new revocation list names.
func NewManager(cfg Config) *Manager {
	m := &Manager{
		cfg:      cfg.withDefaults(),
		pending:  map[[SessionIDSize]byte]*pending{},
		sessions: map[[SessionIDSize]byte]*Session{},
		accepted: map[string]*acceptedInit{},
		counters: map[string]uint64{},
		respOf:   map[[SessionIDSize]byte][32]byte{},
	}
	if m.cfg.Trust != nil {
		m.cancel = m.cfg.Trust.OnRevocation(m.onRevocation)
	}
	return m
}

// Close is a shutdown: it stops watching revocations and wipes every
// session from memory. With Resume the snapshots stay in the store for
// the next process; Session.Close, revocation and policy end sessions for
// good and delete them.
func (m *Manager) Close() {
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Lock()
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	clear(m.sessions)
	clear(m.accepted)
	clear(m.respOf)
	for id, p := range m.pending {
		p.wipe()
		delete(m.pending, id)
	}
	m.mu.Unlock()
	for _, s := range all {
		s.mu.Lock()
		s.wipe()
		s.mu.Unlock()
	}
	// Background reservations still in flight finish (or fail) before the
	// caller closes the store under them.
	m.writes.Wait()
}

func (m *Manager) onRevocation(ev identity.RevocationEvent) {
	m.closeWhere(func(s *Session) bool {
		return slices.Contains(ev.DeviceIDs, s.peer) ||
			slices.ContainsFunc(ev.KeyIDs, func(id []byte) bool { return bytes.Equal(id, s.peerKey) })
	})
}

// EnforcePolicy closes sessions whose suite the installed policy no longer
// allows (or all of them when the policy is missing or stale). Call it
// after installing a policy; sessions also check on every use.
func (m *Manager) EnforcePolicy() {
	p := m.cfg.Trust.Policy()
	fresh := m.cfg.Trust.CheckHighRisk(m.cfg.now()) == nil
	m.closeWhere(func(s *Session) bool { return !fresh || s.suite.allowed(p) != nil })
}

func (m *Manager) closeWhere(pred func(*Session) bool) {
	m.mu.Lock()
	var victims []*Session
	for _, s := range m.sessions {
		if pred(s) {
			victims = append(victims, s)
		}
	}
	for peer, a := range m.accepted {
		if pred(a.session) {
			delete(m.accepted, peer)
		}
	}
	m.mu.Unlock()
	for _, s := range victims {
		s.Close()
	}
}

// Session returns an established session by id.
func (m *Manager) Session(id [SessionIDSize]byte) (*Session, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	return s, ok
}

// Unprotect routes a data frame received on context to its session.
func (m *Manager) Unprotect(frame []byte, context string) (*Session, []byte, error) {
	if len(frame) < 2+SessionIDSize {
		return nil, nil, fmt.Errorf("%w: %d-byte frame", ErrMalformed, len(frame))
	}
	s, ok := m.Session([SessionIDSize]byte(frame[2 : 2+SessionIDSize]))
	if !ok {
		return nil, nil, ErrUnknownSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pt, err := s.unprotect(nil, frame, context)
	return s, pt, err
}

// highRisk is the gate for new sessions: a fresh policy and revocation list.
func (m *Manager) highRisk() error {
	if m.cfg.Trust == nil {
		return fmt.Errorf("%w: no trust configured", ErrPolicy)
	}
	if err := m.cfg.Trust.CheckHighRisk(m.cfg.now()); err != nil {
		return fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	return nil
}

func (m *Manager) chooseSuite() (Suite, error) {
	p := m.cfg.Trust.Policy()
	for _, s := range suitePreference {
		if s.allowed(p) == nil {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: policy allows no session suite", ErrPolicy)
}

// Initiate starts a handshake with peer for context and returns the Init
// frame to send. The session appears when HandleHandshake accepts the
// Response.
func (m *Manager) Initiate(peer, context string) ([]byte, error) {
	return m.InitiateSuite(peer, context, 0)
}

// InitiateSuite is Initiate with an explicit suite (0 picks one).
func (m *Manager) InitiateSuite(peer, context string, suite Suite) ([]byte, error) {
	if err := m.highRisk(); err != nil {
		return nil, err
	}
	var err error
	if suite == 0 {
		suite, err = m.chooseSuite()
	} else {
		err = suite.allowed(m.cfg.Trust.Policy())
	}
	if err != nil {
		return nil, err
	}
	if !validID(peer) || len(context) > MaxContextLen {
		return nil, fmt.Errorf("%w: peer id or context", ErrMalformed)
	}
	now := m.cfg.now()
	peerKey, _, err := m.cfg.Peers.Current(peer, now)
	if err != nil {
		return nil, err
	}
	p, err := m.newPending(suite)
	if err != nil {
		return nil, err
	}
	msg := &initMsg{suite: suite, initiator: m.cfg.Local.ID, initKey: m.cfg.Local.Current.KeyID,
		rcpt: peer, rcptKey: peerKey, context: context, timestamp: uint64(now.Unix()),
		x25519: p.eph.PublicKey().Bytes()}
	if _, err := io.ReadFull(m.cfg.rand(), msg.sid[:]); err != nil {
		return nil, err
	}
	msg.ek = p.ek
	if msg.counter, err = m.nextCounter(peer); err != nil {
		p.wipe()
		return nil, err
	}
	frame, err := m.signInit(msg)
	if err != nil {
		p.wipe()
		return nil, err
	}
	p.init, p.msg, p.expires = frame, msg, now.Add(m.cfg.HandshakeTimeout)
	return frame, m.addPending(msg.sid, p)
}

func (m *Manager) newPending(suite Suite) (*pending, error) {
	kem, err := suite.kem()
	if err != nil {
		return nil, err
	}
	eph, err := ecdh.X25519().GenerateKey(m.cfg.rand())
	if err != nil {
		return nil, err
	}
	ek, dk, err := kem.GenerateKey(m.cfg.rand())
	if err != nil {
		return nil, err
	}
	return &pending{eph: eph, dk: dk, ek: ek, kem: kem}, nil
}

func (m *Manager) signInit(msg *initMsg) ([]byte, error) {
	body, err := msg.encodeBody()
	if err != nil {
		return nil, err
	}
	sig, err := m.cfg.Local.Current.sign(append([]byte(labelInitSig), body...))
	if err != nil {
		return nil, err
	}
	w := writer{b: body}
	w.bytes16(sig)
	return w.b, w.err
}

// nextCounter is the per-peer handshake counter, durable before use.
func (m *Manager) nextCounter(peer string) (uint64, error) {
	if m.cfg.Store != nil {
		v, err := m.cfg.Store.Increment(hsOutPrefix+peer, 1)
		if err != nil {
			return 0, fmt.Errorf("%w: handshake counter: %v", ErrPersist, err)
		}
		return v, nil
	}
	if err := m.cfg.durable(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counters[peer]++
	return m.counters[peer], nil
}

func (m *Manager) addPending(sid [SessionIDSize]byte, p *pending) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.now()
	for id, q := range m.pending {
		if !now.Before(q.expires) {
			q.wipe()
			delete(m.pending, id)
		}
	}
	if len(m.pending) >= m.cfg.MaxPending {
		p.wipe()
		return fmt.Errorf("%w: %d handshakes pending", ErrRateLimited, len(m.pending))
	}
	m.pending[sid] = p
	return nil
}

// HandleHandshake takes an Init (as responder) or a Response (as
// initiator). For an Init it returns the Response to send and the new
// session; for a Response, the new session and no reply. An identical
// retransmitted Init gets the identical Response and the same session; an
// identical retransmitted Response returns (nil, nil, nil).
func (m *Manager) HandleHandshake(frame []byte) (reply []byte, s *Session, err error) {
	if len(frame) > MaxHandshakeSize || len(frame) < 2 {
		return nil, nil, fmt.Errorf("%w: %d-byte handshake", ErrMalformed, len(frame))
	}
	switch frame[1] {
	case typeInit:
		return m.handleInit(frame)
	case typeResponse:
		s, err := m.handleResponse(frame)
		return nil, s, err
	}
	return nil, nil, fmt.Errorf("%w: frame type 0x%02x", ErrMalformed, frame[1])
}

func (m *Manager) handleInit(frame []byte) ([]byte, *Session, error) {
	msg, err := parseInit(frame)
	if err != nil {
		return nil, nil, err
	}
	now := m.cfg.now()
	if msg.rcpt != m.cfg.Local.ID {
		return nil, nil, fmt.Errorf("%w: Init for %s", ErrWrongRecipient, msg.rcpt)
	}
	own, err := m.cfg.Local.epoch(msg.rcptKey, now)
	if err != nil {
		return nil, nil, err
	}
	if resp, s := m.retransmitted(msg.initiator, frame); resp != nil {
		return resp, s, nil
	}
	if err := m.highRisk(); err != nil {
		return nil, nil, err
	}
	if err := msg.suite.allowed(m.cfg.Trust.Policy()); err != nil {
		return nil, nil, err
	}
	// The key lookup is a map read: doing it before the budget keeps
	// unknown ids from creating budget entries.
	pub, err := m.cfg.Peers.SigningKey(msg.initiator, msg.initKey, now)
	if err != nil {
		return nil, nil, err
	}
	if err := allow(m.cfg.Budget, msg.initiator); err != nil {
		return nil, nil, err
	}
	if err := verifySig(pub, append([]byte(labelInitSig), frame[:msg.signedLen]...), msg.sig); err != nil {
		return nil, nil, err
	}
	if err := m.checkFresh(msg, now); err != nil {
		return nil, nil, err
	}
	return m.respond(msg, frame, own)
}

// retransmitted answers an Init identical to the last accepted one from
// the same initiator with the cached Response. Identical bytes were
// verified before, so no new verification is needed.
func (m *Manager) retransmitted(initiator string, frame []byte) ([]byte, *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.accepted[initiator]
	if !ok || a.hash != sha256.Sum256(frame) {
		return nil, nil
	}
	return bytes.Clone(a.response), a.session
}

// checkFresh refuses an old counter (a replayed Init) and a timestamp far
// from our clock, then makes the new counter durable before answering.
func (m *Manager) checkFresh(msg *initMsg, now time.Time) error {
	ts := int64(msg.timestamp)
	if d := now.Unix() - ts; d > int64(MaxClockSkew.Seconds()) || -d > int64(MaxClockSkew.Seconds()) {
		return fmt.Errorf("%w: Init timestamp %d is %d s from now", ErrExpired, ts, d)
	}
	last, err := m.lastCounter(msg.initiator)
	if err != nil {
		return err
	}
	if msg.counter <= last {
		return fmt.Errorf("%w: handshake counter %d, last accepted %d", ErrReplay, msg.counter, last)
	}
	return m.setCounter(msg.initiator, last, msg.counter)
}

func (m *Manager) lastCounter(peer string) (uint64, error) {
	if m.cfg.Store != nil {
		v, err := m.cfg.Store.Counter(hsInPrefix + peer)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrPersist, err)
		}
		return v, nil
	}
	if err := m.cfg.durable(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters["in/"+peer], nil
}

func (m *Manager) setCounter(peer string, last, v uint64) error {
	if m.cfg.Store != nil {
		if _, err := m.cfg.Store.Increment(hsInPrefix+peer, v-last); err != nil {
			return fmt.Errorf("%w: %v", ErrPersist, err)
		}
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counters["in/"+peer] = v
	return nil
}

func (m *Manager) respond(msg *initMsg, frame []byte, own *EpochKeys) ([]byte, *Session, error) {
	kem, _ := msg.suite.kem()
	eph, err := ecdh.X25519().GenerateKey(m.cfg.rand())
	if err != nil {
		return nil, nil, err
	}
	ct, ss, err := kem.Encapsulate(msg.ek, m.cfg.rand())
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer clear(ss)
	dh, err := x25519(eph.Bytes(), msg.x25519)
	if err != nil {
		return nil, nil, err
	}
	defer clear(dh)
	r := &respMsg{suite: msg.suite, sid: msg.sid, x25519: eph.PublicKey().Bytes(), ct: ct}
	thPart, err := r.encodeTH()
	if err != nil {
		return nil, nil, err
	}
	th := transcript(frame, thPart)
	keys, err := deriveHandshake(th, dh, ss)
	if err != nil {
		return nil, nil, err
	}
	defer keys.wipe()
	body := append(thPart, keys.confirm(th)...)
	initHash := sha256.Sum256(frame)
	sig, err := own.sign(append(append([]byte(labelRespSig), initHash[:]...), body...))
	if err != nil {
		return nil, nil, err
	}
	w := writer{b: body}
	w.bytes16(sig)
	if w.err != nil {
		return nil, nil, w.err
	}
	s := m.newSession(msg, false, keys, eph.Bytes(), msg.x25519)
	if err := m.register(s, w.b); err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	m.accepted[msg.initiator] = &acceptedInit{hash: initHash, response: w.b, session: s}
	m.mu.Unlock()
	return bytes.Clone(w.b), s, nil
}

func (m *Manager) handleResponse(frame []byte) (*Session, error) {
	r, err := parseResponse(frame)
	if err != nil {
		return nil, err
	}
	p, err := m.takePending(r.sid, frame)
	if p == nil || err != nil {
		return nil, err
	}
	s, err := m.finish(p, r, frame)
	if err != nil {
		m.restorePending(r.sid, p) // a forged Response must not cancel the real one
		return nil, err
	}
	p.wipe()
	return s, nil
}

// takePending removes the pending handshake for sid. A Response for a
// session already made from the identical Response is ignored (nil, nil).
func (m *Manager) takePending(sid [SessionIDSize]byte, frame []byte) (*pending, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pending[sid]
	if !ok {
		if h, done := m.respOf[sid]; done && h == sha256.Sum256(frame) {
			return nil, nil
		}
		return nil, ErrUnknownSession
	}
	delete(m.pending, sid)
	if !m.cfg.now().Before(p.expires) {
		p.wipe()
		return nil, fmt.Errorf("%w: pending since %s", ErrExpired, p.expires.Add(-m.cfg.HandshakeTimeout))
	}
	return p, nil
}

func (m *Manager) restorePending(sid [SessionIDSize]byte, p *pending) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[sid] = p
}

func (m *Manager) finish(p *pending, r *respMsg, frame []byte) (*Session, error) {
	if r.suite != p.msg.suite {
		return nil, fmt.Errorf("%w: Response suite 0x%02x, Init offered 0x%02x", ErrAuth, byte(r.suite), byte(p.msg.suite))
	}
	now := m.cfg.now()
	if err := allow(m.cfg.Budget, p.msg.rcpt); err != nil {
		return nil, err
	}
	pub, err := m.cfg.Peers.SigningKey(p.msg.rcpt, p.msg.rcptKey, now)
	if err != nil {
		return nil, err
	}
	initHash := sha256.Sum256(p.init)
	if err := verifySig(pub, append(append([]byte(labelRespSig), initHash[:]...), frame[:r.signedLen]...), r.sig); err != nil {
		return nil, err
	}
	ss, err := p.kem.Decapsulate(p.dk, r.ct)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer clear(ss)
	dh, err := x25519(p.eph.Bytes(), r.x25519)
	if err != nil {
		return nil, err
	}
	defer clear(dh)
	th := transcript(p.init, frame[:r.thLen])
	keys, err := deriveHandshake(th, dh, ss)
	if err != nil {
		return nil, err
	}
	defer keys.wipe()
	if !hmac.Equal(keys.confirm(th), r.confirm) {
		return nil, fmt.Errorf("%w: key confirmation", ErrAuth)
	}
	s := m.newSession(p.msg, true, keys, p.eph.Bytes(), r.x25519)
	return s, m.register(s, frame)
}

func (m *Manager) newSession(msg *initMsg, initiator bool, k *handshakeKeys, ownEph, peerEph []byte) *Session {
	s := &Session{m: m, id: msg.sid, suite: msg.suite, initiator: initiator, context: msg.context,
		rk: k.root, exporter: k.exporter, pqAt: m.cfg.now().Unix()}
	copy(s.dhsPriv[:], ownEph)
	copy(s.dhr[:], peerEph)
	pk, _ := ecdh.X25519().NewPrivateKey(ownEph)
	copy(s.dhsPub[:], pk.PublicKey().Bytes())
	if initiator {
		s.peer, s.peerKey = msg.rcpt, msg.rcptKey
		s.cks, s.ckr = k.i2r, k.r2i
	} else {
		s.peer, s.peerKey = msg.initiator, msg.initKey
		s.cks, s.ckr = k.r2i, k.i2r
		s.answered = true // our ephemeral was made after seeing theirs
	}
	return s
}

func (m *Manager) register(s *Session, response []byte) error {
	m.mu.Lock()
	if old, ok := m.sessions[s.id]; ok && old != s {
		m.mu.Unlock()
		return fmt.Errorf("%w: session id collision", ErrAuth)
	}
	m.sessions[s.id] = s
	m.respOf[s.id] = sha256.Sum256(response)
	m.made++
	s.made = m.made
	stale := m.supersededLocked(s)
	m.mu.Unlock()
	for _, old := range stale {
		old.Close()
	}
	if m.persists() {
		s.mu.Lock()
		err := m.save(s)
		s.mu.Unlock()
		if err != nil {
			m.drop(s)
			return err
		}
	}
	return nil
}

// supersededLocked returns the sessions that s pushes over
// Config.MaxSessionsPerPeer: the oldest with the same peer, context and
// role. A peer that re-handshakes (after a restart, a rekey, a lost
// Response) replaces its session without telling us, so without this bound
// every handshake would leave a session in memory and in the store for
// good. The newest ones stay, so frames of the previous session still in
// flight open. The caller holds m.mu and closes them after releasing it.
func (m *Manager) supersededLocked(s *Session) []*Session {
	var same []*Session
	for _, o := range m.sessions {
		if o.peer == s.peer && o.context == s.context && o.initiator == s.initiator {
			same = append(same, o)
		}
	}
	if len(same) <= m.cfg.MaxSessionsPerPeer {
		return nil
	}
	slices.SortFunc(same, func(a, b *Session) int { return cmp.Compare(a.made, b.made) })
	return same[:len(same)-m.cfg.MaxSessionsPerPeer]
}

// drop forgets a closed session and its persisted state.
func (m *Manager) drop(s *Session) {
	m.mu.Lock()
	if m.sessions[s.id] == s {
		delete(m.sessions, s.id)
	}
	delete(m.respOf, s.id)
	for peer, a := range m.accepted {
		if a.session == s {
			delete(m.accepted, peer)
		}
	}
	m.mu.Unlock()
	if m.persists() {
		s.forget()
	}
}

func stateName(id [SessionIDSize]byte) string { return statePrefix + hex.EncodeToString(id[:]) }
