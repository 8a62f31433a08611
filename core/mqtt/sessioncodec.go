package mqtt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/session"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// Reserved topics of the session codec.
const (
	TopicHandshakePrefix = "pqc/v1/hs/" // + device id: Init to a responder, Response to an initiator
	TopicRatchetPrefix   = "pqc/v1/r/"  // + device id: keep-ratchet frames for that device
	// sessionContext is what sessions made over MQTT are bound to in their
	// handshake. Every data frame also carries the application topic inside
	// its AEAD-protected envelope, which binds each frame to its topic (a
	// session serves every topic between the same two devices).
	sessionContext = "pqc-iiot/mqtt/v1"
)

// HandshakeTopic is where deviceID receives handshake messages.
func HandshakeTopic(deviceID string) string { return TopicHandshakePrefix + deviceID }

// RatchetTopic is where deviceID receives keep-ratchet frames.
func RatchetTopic(deviceID string) string { return TopicRatchetPrefix + deviceID }

// Codec errors. Frames refused with ErrNotForMe are counted in
// Stats.DroppedNotForMe, not DroppedUnprotect: they are the normal result
// of fan-out (a subscriber of a topic that is not among its recipients).
var (
	ErrNoRecipients = errors.New("mqtt: no authorised recipient for topic")
	ErrNotForMe     = errors.New("mqtt: frame not addressed to this device")
	ErrNoSession    = errors.New("mqtt: no session with recipient")
	ErrNotPermitted = errors.New("mqtt: sender's certificate does not grant publish on topic")
)

// DefaultSnapshotReserve trades keystore writes against frames lost after
// a crash: telemetry at hundreds of messages per second would otherwise
// fsync the keystore several times a second. A restarted receiver asks the
// sender for a new chain at once (keep-ratchet), so the loss is bounded by
// one round trip, not by the reserve.
const DefaultSnapshotReserve = 1024

// CodecMode chooses how SessionCodec protects frames.
type CodecMode int

const (
	// ModeAuto uses pairwise sessions when every recipient of a topic has
	// one and a multi-recipient sealed frame otherwise, and starts the
	// missing handshakes in the background so later frames use sessions.
	ModeAuto CodecMode = iota
	// ModeSealed always sends multi-recipient sealed frames (one signature
	// per frame, no handshakes).
	ModeSealed
	// ModeSessions sends only over sessions, waiting for missing handshakes
	// up to HandshakeWait. A policy with RequireSessions forces this mode,
	// and receivers then refuse sealed frames.
	ModeSessions
)

// SessionCodecOptions configure a SessionCodec.
type SessionCodecOptions struct {
	Device *identity.Device // required
	Trust  *identity.Trust  // required
	// Store is the device's keystore: sender sequence reservations, replay
	// high-water marks, handshake counters and session snapshots (sessions
	// resume after a restart). Without it Volatile must be set.
	Store    *store.Store
	Volatile bool
	Mode     CodecMode
	// Recipients overrides who a topic's frames are for. By default they
	// are the peers whose announcement Trust accepted and whose certificate
	// grants Subscribe on a filter matching the topic (claim -7).
	Recipients func(topic string) []string
	// HandshakeWait bounds how long Protect waits for sessions in session
	// mode; 10 s.
	HandshakeWait time.Duration
	// KeepRatchetInterval is the least time between two keep-ratchet
	// frames to the same peer; 250 ms.
	KeepRatchetInterval time.Duration
	// SnapshotReserve is session.Config.SnapshotReserve: message numbers
	// reserved per session snapshot (one keystore write, with its fsync,
	// per that many messages each way); DefaultSnapshotReserve.
	SnapshotReserve uint32
	Budget          session.Budget // per-sender budget inside the engine; policy's PeerBudget when nil
	Now             func() time.Time
}

// CodecStats are the codec's own counters.
type CodecStats struct {
	SealedSent, SessionSent           uint64 // frames protected each way
	HandshakesStarted, HandshakesDone uint64
	HandshakeRetries                  uint64
	KeepRatchetSent                   uint64
	SessionsResumed                   uint64
}

// SessionCodec is the production Codec: core/session's multi-recipient
// sealed frames and pairwise sessions over MQTT. Give it to NewClient in
// Options.Codec; the client then also carries its handshakes
// (pqc/v1/hs/<id>) and keep-ratchet frames (pqc/v1/r/<id>).
type SessionCodec struct {
	opts   SessionCodecOptions
	local  *session.Local
	sealer *session.Sealer
	opener *session.Opener
	mgr    *session.Manager
	cancel func()

	mu       sync.Mutex
	known    map[string]bool             // peers whose announcement was accepted
	sessions map[string]*session.Session // newest established session per peer
	hs       map[string]*handshake       // handshakes we initiated, by peer
	lastKR   map[string]time.Time
	gen      uint64 // bumped whenever trust state changes; keys the caches
	rcache   map[string]rcptCache
	gcache   map[grantKey]grantCache
	client   *Client
	closed   bool

	st struct {
		sealedSent, sessionSent, hsStarted, hsDone, hsRetries, krSent, resumed atomic.Uint64
	}
}

type handshake struct {
	done chan struct{}
	once sync.Once
	err  error
}

// complete ends the handshake once: the Response (on the receive
// goroutine) and a timeout or close (on the handshake goroutine) can race
// to it, and a second close of done would panic where nothing recovers.
func (h *handshake) complete(err error) {
	h.once.Do(func() {
		h.err = err
		close(h.done)
	})
}

// NewSessionCodec loads the device's keys and, with a Store, restores the
// replay windows and resumes saved sessions.
func NewSessionCodec(opts SessionCodecOptions) (*SessionCodec, error) {
	if opts.Device == nil || opts.Trust == nil {
		return nil, errors.New("mqtt: session codec needs Device and Trust")
	}
	if opts.Store == nil && !opts.Volatile {
		return nil, fmt.Errorf("mqtt: session codec: %w", session.ErrPersist)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HandshakeWait <= 0 {
		opts.HandshakeWait = 10 * time.Second
	}
	if opts.KeepRatchetInterval <= 0 {
		opts.KeepRatchetInterval = 250 * time.Millisecond
	}
	local, err := session.LocalFromDevice(opts.Device, opts.Now())
	if err != nil {
		return nil, err
	}
	if opts.SnapshotReserve == 0 {
		opts.SnapshotReserve = DefaultSnapshotReserve
	}
	cfg := session.Config{Local: local, Trust: opts.Trust, Store: opts.Store, Volatile: opts.Volatile,
		Budget: opts.Budget, Now: opts.Now, Resume: opts.Store != nil, SnapshotReserve: opts.SnapshotReserve}
	c := &SessionCodec{opts: opts, local: local, sealer: session.NewSealer(cfg), mgr: session.NewManager(cfg),
		known: map[string]bool{}, sessions: map[string]*session.Session{}, hs: map[string]*handshake{},
		lastKR: map[string]time.Time{}, rcache: map[string]rcptCache{}, gcache: map[grantKey]grantCache{}}
	if c.opener, err = session.NewOpener(cfg); err != nil {
		c.mgr.Close()
		local.Wipe()
		return nil, err
	}
	resumed, err := c.mgr.Resume()
	if err != nil {
		c.mgr.Close()
		local.Wipe()
		return nil, err
	}
	for _, s := range resumed {
		if s.Context() == sessionContext {
			c.sessions[s.Peer()] = s
			c.known[s.Peer()] = true // until its announcement arrives again
			c.st.resumed.Add(1)
		}
	}
	c.cancel = opts.Trust.OnRevocation(c.onRevocation)
	return c, nil
}

// Close saves the replay windows (and, with a Store, keeps the session
// snapshots for the next start) and wipes the keys.
func (c *SessionCodec) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	err := c.opener.Close()
	c.mgr.Close()
	c.local.Wipe()
	return err
}

// Stats returns the codec's counters.
func (c *SessionCodec) Stats() CodecStats {
	return CodecStats{SealedSent: c.st.sealedSent.Load(), SessionSent: c.st.sessionSent.Load(),
		HandshakesStarted: c.st.hsStarted.Load(), HandshakesDone: c.st.hsDone.Load(),
		HandshakeRetries: c.st.hsRetries.Load(), KeepRatchetSent: c.st.krSent.Load(),
		SessionsResumed: c.st.resumed.Load()}
}

// Session returns the session used to send to peer, if there is one.
func (c *SessionCodec) Session(peer string) (*session.Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[peer]
	return s, ok
}

func (c *SessionCodec) attach(cl *Client) {
	c.mu.Lock()
	c.client = cl
	if c.opts.Recipients == nil {
		c.opts.Recipients = cl.opts.Recipients
	}
	c.mu.Unlock()
}

// peerAnnounced is told by the client of every accepted announcement: the
// candidates for recipients. The set is bounded by the fleet, since only
// verified announcements add to it.
func (c *SessionCodec) peerAnnounced(id string) {
	if id == c.local.ID {
		return
	}
	c.mu.Lock()
	c.known[id] = true
	c.invalidate()
	c.mu.Unlock()
}

// onRevocation stops sending to revoked peers at once; the Manager closes
// their sessions itself.
func (c *SessionCodec) onRevocation(ev identity.RevocationEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ev.DeviceIDs {
		delete(c.sessions, id)
		delete(c.known, id)
	}
	c.invalidate()
}

func (c *SessionCodec) requireSessions() bool {
	if c.opts.Mode == ModeSessions {
		return true
	}
	p := c.opts.Trust.Policy()
	return p != nil && p.RequireSessions
}

// permits reports whether peer's current (or overlapping previous)
// certificate grants the operation on topic.
func permits(t *identity.Trust, peer, topic string, publish bool) bool {
	p, ok := t.Peer(peer)
	if !ok {
		return false
	}
	for _, a := range []*identity.Announcement{p.Current, p.Previous} {
		if a == nil || a.Cert == nil {
			continue
		}
		for _, tp := range a.Cert.Topics {
			if (publish && tp.Publish || !publish && tp.Subscribe) && Match(tp.Filter, topic) {
				return true
			}
		}
	}
	return false
}

// cacheTTL bounds how long a resolved recipient list or publish grant is
// reused: trust changes (announcements, revocations, policy) invalidate
// the caches at once; the TTL covers what changes with time alone (an
// epoch overlap ending, a certificate expiring).
const (
	cacheTTL     = time.Second
	cacheEntries = 1024
)

type rcptCache struct {
	gen     uint64
	expires time.Time
	ids     []string // what the Recipients hook returned, if there is one
	rcpts   []session.Recipient
}

// grantKey names a cached publish grant; a struct, not a concatenated
// string, so a lookup allocates nothing.
type grantKey struct{ sender, topic string }

type grantCache struct {
	gen     uint64
	expires time.Time
	ok      bool
}

// invalidate drops what was derived from trust state; callers hold c.mu.
func (c *SessionCodec) invalidate() {
	c.gen++
}

// recipients resolves the recipients of topic, from the cache while the
// trust state is unchanged: looking them up costs several Trust lookups
// per message, and publishers call it from many goroutines at once.
// The Recipients hook is asked every time (it is the application's
// decision); only the key lookups behind its answer are cached.
func (c *SessionCodec) recipients(topic string) ([]session.Recipient, error) {
	now := time.Now()
	var ids []string
	if c.opts.Recipients != nil {
		ids = canonicalIDs(c.opts.Recipients(topic))
	}
	c.mu.Lock()
	if e, ok := c.rcache[topic]; ok && e.gen == c.gen && now.Before(e.expires) && slices.Equal(e.ids, ids) {
		c.mu.Unlock()
		return e.rcpts, nil
	}
	gen := c.gen
	c.mu.Unlock()
	rcpts, err := c.resolveRecipients(topic, ids)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.rcache) >= cacheEntries {
		clear(c.rcache)
	}
	c.rcache[topic] = rcptCache{gen: gen, expires: now.Add(cacheTTL), ids: slices.Clone(ids), rcpts: rcpts}
	c.mu.Unlock()
	return rcpts, nil
}

// canonicalIDs is ids sorted without duplicates. The hook's answer is
// usually that already (often one id): it is then used as it is, and
// copied only when it goes into the cache.
func canonicalIDs(ids []string) []string {
	if slices.IsSortedFunc(ids, func(a, b string) int {
		if a >= b {
			return 1 // a duplicate or a descent: not canonical
		}
		return -1
	}) {
		return ids
	}
	return slices.Compact(slices.Sorted(slices.Values(ids)))
}

// trustChanged is told by the client of every policy or revocation list
// applied.
func (c *SessionCodec) trustChanged() {
	c.mu.Lock()
	c.invalidate()
	c.mu.Unlock()
}

// mayPublish is permits(sender, topic, publish) behind the same cache.
func (c *SessionCodec) mayPublish(sender, topic string) bool {
	now := time.Now()
	key := grantKey{sender, topic}
	c.mu.Lock()
	if e, ok := c.gcache[key]; ok && e.gen == c.gen && now.Before(e.expires) {
		c.mu.Unlock()
		return e.ok
	}
	gen := c.gen
	c.mu.Unlock()
	ok := permits(c.opts.Trust, sender, topic, true)
	c.mu.Lock()
	if len(c.gcache) >= cacheEntries {
		clear(c.gcache)
	}
	c.gcache[key] = grantCache{gen: gen, expires: now.Add(cacheTTL), ok: ok}
	c.mu.Unlock()
	return ok
}

// resolveRecipients resolves the recipients of topic to addressable keys;
// revoked peers and peers without a valid key are left out.
func (c *SessionCodec) resolveRecipients(topic string, ids []string) ([]session.Recipient, error) {
	now := c.opts.Now()
	ids = slices.Clone(ids) // the caller caches its copy
	if c.opts.Recipients == nil {
		c.mu.Lock()
		for id := range c.known {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		ids = slices.DeleteFunc(ids, func(id string) bool { return !permits(c.opts.Trust, id, topic, false) })
	}
	sort.Strings(ids)
	ids = slices.Compact(ids)
	var out []session.Recipient
	for _, id := range ids {
		if id == c.local.ID || !session.ValidID(id) {
			continue
		}
		r, err := session.RecipientOf(session.TrustPeers{Trust: c.opts.Trust}, id, "", now)
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoRecipients, topic)
	}
	if len(out) > session.MaxRecipients {
		return nil, fmt.Errorf("mqtt: %d recipients for %q, at most %d per frame", len(out), topic, session.MaxRecipients)
	}
	return out, nil
}

// envelope binds a session frame's payload to its MQTT topic: sessions
// serve every topic between two devices, so the topic travels inside the
// AEAD-protected plaintext and the receiver compares it with the topic the
// frame arrived on.
func envelope(topic string, payload []byte) []byte {
	return appendEnvelope(make([]byte, 0, 2+len(topic)+len(payload)), topic, payload)
}

func appendEnvelope(b []byte, topic string, payload []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(topic)))
	return append(append(b, topic...), payload...)
}

func openEnvelope(topic string, pt []byte) ([]byte, error) {
	if len(pt) < 2 || int(binary.BigEndian.Uint16(pt)) > len(pt)-2 {
		return nil, fmt.Errorf("%w: envelope", session.ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(pt))
	if string(pt[2:2+n]) != topic {
		return nil, fmt.Errorf("%w: frame bound to another topic", session.ErrAuth)
	}
	return pt[2+n:], nil
}

// Protect implements Codec.
func (c *SessionCodec) Protect(topic string, payload []byte) ([]byte, error) {
	if err := c.opts.Trust.CheckHighRisk(c.opts.Now()); err != nil {
		return nil, fmt.Errorf("%w: %w", session.ErrPolicy, err)
	}
	rcpts, err := c.recipients(topic)
	if err != nil {
		return nil, err
	}
	mode := c.opts.Mode
	if c.requireSessions() {
		mode = ModeSessions
	}
	if mode != ModeSealed {
		frame, err := c.protectSessions(rcpts, topic, payload, mode == ModeSessions)
		if err == nil || mode == ModeSessions {
			return frame, err
		}
	}
	frame, err := c.sealer.SealMulti(rcpts, topic, payload)
	if err == nil {
		c.st.sealedSent.Add(1)
	}
	return frame, err
}

// protectSessions makes a bundle with one frame per recipient session.
// All sessions are found before any is used, so a fallback to sealing
// leaves no chain advanced for nothing. Without wait, a missing session
// fails at once (after starting its handshake) so the caller can seal.
// The frames are protected straight into the bundle: one buffer per
// message, whatever the number of recipients.
func (c *SessionCodec) protectSessions(rcpts []session.Recipient, topic string, payload []byte, wait bool) ([]byte, error) {
	var one [1]*session.Session // the common case, without allocating
	sess := one[:0]
	if len(rcpts) > 1 {
		sess = make([]*session.Session, 0, len(rcpts))
	}
	var deadline time.Time
	var missing error
	for _, r := range rcpts {
		s, err := c.awaitSession(r.DeviceID, wait, &deadline)
		if err != nil && wait {
			return nil, err
		}
		if err != nil {
			missing = err // go on: every missing handshake starts now
			continue
		}
		sess = append(sess, s)
	}
	if missing != nil {
		return nil, missing
	}
	env := envelopePool.Get().(*[]byte)
	defer func() {
		clear(*env)
		envelopePool.Put(env)
	}()
	*env = appendEnvelope((*env)[:0], topic, payload)
	size := 4 + len(c.local.ID)
	for range sess {
		size += 2 + sessionFrameOverhead + len(*env)
	}
	b, err := session.AppendBundleHeader(make([]byte, 0, size), c.local.ID, len(sess))
	if err != nil {
		return nil, err
	}
	for _, s := range sess {
		if b, err = session.AppendBundleEntry(b, s, *env); err != nil {
			// A closed session (revocation, policy) is forgotten; the next
			// frame makes a new one or leaves the peer out.
			c.forget(s.Peer(), s)
			return nil, err
		}
	}
	c.st.sessionSent.Add(1)
	return b, nil
}

// sessionFrameOverhead is a data frame's size beyond its plaintext without
// KEM material (header and tag): a size hint only.
const sessionFrameOverhead = 2 + 16 + 32 + 4 + 4 + 1 + 16

// envelopePool recycles the plaintext buffers of session frames.
var envelopePool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// awaitSession returns the session with peer; with wait, it waits for a
// handshake until the deadline (set on first use).
func (c *SessionCodec) awaitSession(peer string, wait bool, deadline *time.Time) (*session.Session, error) {
	for {
		s, hs := c.sessionOrHandshake(peer)
		if s != nil {
			return s, nil
		}
		if hs == nil || !wait {
			return nil, fmt.Errorf("%w %s", ErrNoSession, peer)
		}
		if deadline.IsZero() {
			*deadline = time.Now().Add(c.opts.HandshakeWait)
		}
		select {
		case <-hs.done:
			if hs.err != nil {
				return nil, fmt.Errorf("%w %s: %w", ErrNoSession, peer, hs.err)
			}
		case <-time.After(time.Until(*deadline)):
			return nil, fmt.Errorf("%w %s: handshake not finished within %s", ErrNoSession, peer, c.opts.HandshakeWait)
		}
	}
}

func (c *SessionCodec) forget(peer string, s *session.Session) {
	c.mu.Lock()
	if c.sessions[peer] == s {
		delete(c.sessions, peer)
	}
	c.mu.Unlock()
}

// sessionOrHandshake returns the session with peer, or the handshake in
// progress with it (starting one if needed and a client is attached).
func (c *SessionCodec) sessionOrHandshake(peer string) (*session.Session, *handshake) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sessions[peer]; ok {
		return s, nil
	}
	if h, ok := c.hs[peer]; ok {
		return nil, h
	}
	if c.client == nil || c.closed {
		return nil, nil
	}
	h := &handshake{done: make(chan struct{})}
	c.hs[peer] = h
	c.st.hsStarted.Add(1)
	go c.runHandshake(peer, h)
	return nil, h
}

// runHandshake sends the Init and re-sends the same bytes with
// exponential back-off (1, 2, 4, 8 s) until the Response arrives. The
// responder answers an identical Init with its cached Response, so
// retransmissions cost it no signature and create no second session.
func (c *SessionCodec) runHandshake(peer string, h *handshake) {
	finish := func(err error) {
		c.mu.Lock()
		if c.hs[peer] == h {
			delete(c.hs, peer)
		}
		c.mu.Unlock()
		h.complete(err)
	}
	init, err := c.mgr.Initiate(peer, sessionContext)
	if err != nil {
		finish(err)
		return
	}
	cl := c.client
	backoff := time.Second
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			c.st.hsRetries.Add(1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), cl.opts.ConnectTimeout)
		_ = cl.publishRaw(ctx, HandshakeTopic(peer), init, false, 1)
		cancel()
		select {
		case <-h.done:
			return
		case <-cl.closed:
			finish(ErrClosed)
			return
		case <-time.After(backoff):
		}
		if _, ok := c.Session(peer); ok {
			return
		}
		backoff *= 2
	}
	finish(fmt.Errorf("no handshake response from %s", peer))
}

// handleHandshake processes a frame received on our handshake topic. It
// runs on the client's receive goroutine; replies are sent from another.
func (c *SessionCodec) handleHandshake(frame []byte) error {
	reply, s, err := c.mgr.HandleHandshake(frame)
	if err != nil {
		return err
	}
	if s == nil {
		return nil // a retransmitted Response for a session we already have
	}
	peer := s.Peer()
	c.mu.Lock()
	c.sessions[peer] = s
	h := c.hs[peer]
	if reply == nil && h != nil {
		delete(c.hs, peer)
	}
	cl := c.client
	c.mu.Unlock()
	if reply == nil {
		c.st.hsDone.Add(1)
		if h != nil {
			h.complete(nil)
		}
		return nil
	}
	c.st.hsDone.Add(1)
	if cl != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), cl.opts.ConnectTimeout)
			defer cancel()
			_ = cl.publishRaw(ctx, HandshakeTopic(peer), reply, false, 1)
		}()
	}
	return nil
}

// PeerHint implements PeerHinter: the sender named in clear by sealed
// frames and bundles.
func (c *SessionCodec) PeerHint(frame []byte) (string, bool) {
	return session.ClaimedSender(frame)
}

// Unprotect implements Codec.
func (c *SessionCodec) Unprotect(topic string, frame []byte) (string, []byte, error) {
	if err := c.opts.Trust.CheckHighRisk(c.opts.Now()); err != nil {
		return "", nil, fmt.Errorf("%w: %w", session.ErrPolicy, err)
	}
	var sender string
	var pt []byte
	switch {
	case session.IsMultiSealed(frame):
		if c.requireSessions() {
			return "", nil, fmt.Errorf("%w: sealed frame where sessions are required", session.ErrPolicy)
		}
		o, err := c.opener.OpenMulti(frame, topic)
		if errors.Is(err, session.ErrWrongRecipient) {
			return "", nil, fmt.Errorf("%w: %w", ErrNotForMe, err)
		}
		if err != nil {
			return "", nil, err
		}
		sender, pt = o.Sender, o.Plaintext
	case session.IsBundle(frame):
		s, p, err := c.unbundle(topic, frame)
		if err != nil {
			return "", nil, err
		}
		sender, pt = s.Peer(), p
		if s.NeedsReply() {
			c.keepRatchet(s)
		}
	default:
		return "", nil, fmt.Errorf("%w: not a sealed frame or session bundle", session.ErrMalformed)
	}
	if !reserved(topic) && !c.mayPublish(sender, topic) {
		clear(pt)
		return "", nil, fmt.Errorf("%w: %s on %q", ErrNotPermitted, sender, topic)
	}
	return sender, pt, nil
}

// unbundle finds the entry of one of our sessions and opens it. Session
// ids are random: a lookup is a map read, so entries for other recipients
// cost nothing.
func (c *SessionCodec) unbundle(topic string, frame []byte) (*session.Session, []byte, error) {
	var entries [4][]byte // most bundles are this small: no allocation
	rawClaimed, frames, err := session.SplitBundle(frame, entries[:0])
	if err != nil {
		return nil, nil, err
	}
	for _, f := range frames {
		sid, ok := session.FrameSessionID(f)
		if !ok {
			return nil, nil, fmt.Errorf("%w: bundle entry", session.ErrMalformed)
		}
		s, ok := c.mgr.Session(sid)
		if !ok {
			continue
		}
		if s.Peer() != string(rawClaimed) || s.Context() != sessionContext {
			return nil, nil, fmt.Errorf("%w: bundle from %s carries a session with %s", session.ErrAuth, rawClaimed, s.Peer())
		}
		pt, err := s.Unprotect(f)
		if errors.Is(err, session.ErrReplay) {
			// Either a replay or the sender still on a chain this device
			// reserved past before a restart: a keep-ratchet frame (rate
			// limited per peer) makes the sender start a new chain, which
			// settles the second case and costs an attacker nothing.
			c.keepRatchet(s)
		}
		if err != nil {
			return nil, nil, err
		}
		payload, err := openEnvelope(topic, pt)
		if err != nil {
			return nil, nil, err
		}
		return s, payload, nil
	}
	// No session of ours: a frame for other subscribers, unless its
	// claimed sender cannot be a peer at all (revoked, unknown), which is
	// counted as a refusal rather than fan-out.
	claimed := string(rawClaimed)
	if p, ok := c.opts.Trust.Peer(claimed); !ok {
		return nil, nil, fmt.Errorf("%w: %s", session.ErrUnknownPeer, claimed)
	} else if err := c.opts.Trust.PeerKeyValid(claimed, p.Current.KeyID, c.opts.Now()); err != nil {
		return nil, nil, err
	}
	return nil, nil, fmt.Errorf("%w: no entry for a session of %s", ErrNotForMe, c.local.ID)
}

// keepRatchet answers a peer that asked for a reply with an empty frame on
// pqc/v1/r/<peer>, so its ratchet takes its DH (and post-quantum) step
// even when all application traffic flows one way. At most one per peer
// per KeepRatchetInterval, and never from the receive goroutine.
func (c *SessionCodec) keepRatchet(s *session.Session) {
	peer := s.Peer()
	now := time.Now()
	c.mu.Lock()
	cl := c.client
	if cl == nil || now.Sub(c.lastKR[peer]) < c.opts.KeepRatchetInterval {
		c.mu.Unlock()
		return
	}
	c.lastKR[peer] = now
	if len(c.lastKR) > 4096 {
		clear(c.lastKR)
	}
	c.mu.Unlock()
	go func() {
		topic := RatchetTopic(peer)
		f, err := s.Protect(envelope(topic, nil))
		if err != nil {
			return
		}
		b, err := session.EncodeBundle(c.local.ID, [][]byte{f})
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), cl.opts.ConnectTimeout)
		defer cancel()
		if cl.publishRaw(ctx, topic, b, false, 1) == nil {
			c.st.krSent.Add(1)
		}
	}()
}

// handleKeepRatchet opens a keep-ratchet frame; its only effect is the
// ratchet step inside the session.
func (c *SessionCodec) handleKeepRatchet(topic string, frame []byte) error {
	if !session.IsBundle(frame) {
		return fmt.Errorf("%w: keep-ratchet frame", session.ErrMalformed)
	}
	s, pt, err := c.unbundle(topic, frame)
	if err != nil {
		return err
	}
	if len(pt) != 0 {
		return fmt.Errorf("%w: keep-ratchet frame with payload", session.ErrMalformed)
	}
	if s.NeedsReply() {
		c.keepRatchet(s)
	}
	return nil
}
