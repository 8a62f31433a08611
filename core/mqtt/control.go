package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// handleControl applies a control-plane object that passed the cheap
// checks and its budget. Trust does the verification; a refusal leaves
// Trust as it was.
func (c *Client) handleControl(f inboundFrame) {
	t := c.opts.Trust
	if t == nil {
		c.c.droppedBadTopic.Add(1)
		return
	}
	now := c.now()
	switch f.kind {
	case ctlKeys:
		if len(f.payload) == 0 { // a cleared retained announcement
			c.c.droppedAnnouncement.Add(1)
			return
		}
		a, err := t.AcceptAnnouncement(f.payload, f.topic, now)
		if err == nil && a.DeviceID != f.id {
			// Signed by a valid device, but for another device's topic.
			err = fmt.Errorf("announcement of %s on %s: %w", a.DeviceID, f.topic, identity.ErrContextMismatch)
		}
		if err != nil {
			c.c.droppedAnnouncement.Add(1)
			c.fail(f.topic, err)
			return
		}
		c.c.acceptedAnnouncements.Add(1)
		if c.sc != nil {
			c.sc.peerAnnounced(a.DeviceID)
		}
	case ctlHandshake, ctlRatchet:
		if c.sc == nil || f.id != c.id {
			c.c.droppedSync.Add(1)
			return
		}
		if f.kind == ctlHandshake {
			if err := c.sc.handleHandshake(f.payload); err != nil {
				c.c.droppedHandshake.Add(1)
				c.fail(f.topic, err)
				return
			}
			c.c.acceptedHandshakes.Add(1)
			return
		}
		if err := c.sc.handleKeepRatchet(f.topic, f.payload); err != nil {
			c.c.droppedKeepRatchet.Add(1)
			c.fail(f.topic, err)
			return
		}
		c.c.acceptedKeepRatchet.Add(1)
	case ctlPolicy, ctlSyncPolicy:
		if f.kind == ctlSyncPolicy && f.id != c.id {
			c.c.droppedSync.Add(1)
			return
		}
		wasBlocked := t.CheckHighRisk(now) != nil
		p, err := t.ApplyPolicy(f.payload, now)
		if err != nil {
			c.c.droppedPolicy.Add(1)
			c.fail(f.topic, err)
			return
		}
		c.lim.applyPolicy(p)
		if c.sc != nil {
			c.sc.trustChanged()
		}
		c.c.acceptedPolicies.Add(1)
		c.afterTrustChange(wasBlocked, now)
	case ctlRevocation, ctlSyncRevocation:
		if f.kind == ctlSyncRevocation && f.id != c.id {
			c.c.droppedSync.Add(1)
			return
		}
		wasBlocked := t.CheckHighRisk(now) != nil
		if _, err := t.ApplyRevocation(f.payload); err != nil {
			c.c.droppedRevocation.Add(1)
			c.fail(f.topic, err)
			return
		}
		if c.sc != nil {
			c.sc.trustChanged()
		}
		c.c.acceptedRevocations.Add(1)
		c.afterTrustChange(wasBlocked, now)
	default:
		c.c.droppedSync.Add(1)
	}
}

// afterTrustChange: announcements refused while the policy was missing or
// stale are still retained on the broker; subscribing again makes it send
// them again (MQTT 3.1.1 §3.8.4), now that they can be accepted. This
// keeps no copy of refused, unauthenticated announcements in memory.
func (c *Client) afterTrustChange(wasBlocked bool, now time.Time) {
	if !wasBlocked || c.opts.Trust.CheckHighRisk(now) != nil || !c.resyncing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer c.resyncing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.ConnectTimeout)
		defer cancel()
		_ = wait(ctx, c.pc.Subscribe(topicKeysAll, 1, nil), c.closed)
	}()
}

// ControlPlaneOptions configure a ControlPlane.
type ControlPlaneOptions struct {
	Broker    string
	TLSConfig *tls.Config
	Username  string
	Password  string
	// ClientID defaults to "pqc-control-plane".
	ClientID string
	// Trust (required) holds the anchors: everything published is verified
	// and checked against rollback first, and the retained objects found
	// on the broker at start are adopted the same way.
	Trust *identity.Trust
	// SyncPeer is the budget per requesting device id, SyncGlobal for all
	// requests: the control plane must not become an amplifier. Defaults
	// 1/s burst 3 and 50/s burst 100.
	SyncPeer, SyncGlobal identity.RateLimit
	ConnectTimeout       time.Duration
	Now                  func() time.Time
}

// ControlPlaneStats are the control plane's counters.
type ControlPlaneStats struct {
	PoliciesPublished, RevocationsPublished    uint64
	SyncAnswered, SyncRateLimited, SyncDropped uint64
	// Retained objects found on the broker that did not verify or were
	// older than what the control plane holds.
	DroppedPolicy, DroppedRevocation uint64
}

// ControlPlane publishes the fleet's policy and revocation list (retained,
// so every device that connects gets them) and answers devices that ask on
// pqc/v1/sync/<device-id>. It holds no signing key: objects are signed by
// the CA offline (identity.SignPolicy, CAStore.Revoke) and handed to it.
//
// The intended CLI shape is
//
//	pqc-iiot publish-policy --broker tcp://host:1883 --anchor root.cert POLICY.cbor
//	pqc-iiot publish-revocation --broker ... LIST.cbor
//	pqc-iiot control-plane --broker ... --anchor root.cert   (answer sync requests)
type ControlPlane struct {
	opts    ControlPlaneOptions
	now     func() time.Time
	pc      paho.Client
	queue   chan inboundFrame
	mu      sync.Mutex
	peers   *lru[bucket]
	global  bucket
	closed  chan struct{}
	once    sync.Once
	done    chan struct{}
	started atomic.Bool

	policiesPublished, revocationsPublished, syncAnswered, syncRateLimited,
	syncDropped, droppedPolicy, droppedRevocation atomic.Uint64
}

// NewControlPlane prepares a control plane; Connect starts it.
func NewControlPlane(opts ControlPlaneOptions) (*ControlPlane, error) {
	if opts.Trust == nil {
		return nil, errors.New("mqtt: control plane needs Trust to verify what it publishes")
	}
	if opts.Broker == "" {
		return nil, errors.New("mqtt: no broker URL")
	}
	if opts.ClientID == "" {
		opts.ClientID = "pqc-control-plane"
	}
	if opts.SyncPeer.Rate <= 0 {
		opts.SyncPeer = identity.RateLimit{Rate: 1, Burst: 3}
	}
	if opts.SyncGlobal.Rate <= 0 {
		opts.SyncGlobal = identity.RateLimit{Rate: 50, Burst: 100}
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	cp := &ControlPlane{opts: opts, now: opts.Now, queue: make(chan inboundFrame, 256), peers: newLRU[bucket](4096),
		closed: make(chan struct{}), done: make(chan struct{})}
	if cp.now == nil {
		cp.now = time.Now
	}
	po := paho.NewClientOptions().AddBroker(opts.Broker).SetClientID(opts.ClientID).
		SetUsername(opts.Username).SetPassword(opts.Password).
		SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(30 * time.Second).
		SetConnectTimeout(opts.ConnectTimeout).SetResumeSubs(true).
		SetDefaultPublishHandler(cp.onMessage).
		SetOnConnectHandler(func(pc paho.Client) {
			// Subscriptions survive in the persistent session; renewing them
			// covers a broker that lost its state.
			pc.SubscribeMultiple(map[string]byte{TopicPolicy: 1, TopicRevocation: 1, topicSyncAll: 1}, nil)
		})
	if opts.TLSConfig != nil {
		po.SetTLSConfig(opts.TLSConfig)
	}
	cp.pc = paho.NewClient(po)
	return cp, nil
}

// Connect connects and subscribes to the retained policy and revocation
// list (adopting them if they verify) and to sync requests.
func (cp *ControlPlane) Connect(ctx context.Context) error {
	if !cp.started.CompareAndSwap(false, true) {
		return errors.New("mqtt: Connect called twice")
	}
	if err := wait(ctx, cp.pc.Connect(), cp.closed); err != nil {
		cp.started.Store(false)
		return fmt.Errorf("mqtt: control plane connect: %w", err)
	}
	go cp.worker()
	return nil
}

// PublishPolicy verifies a CA-signed policy, refuses it if it is stale or
// rolls back the one held, and publishes it retained on pqc/v1/policy.
func (cp *ControlPlane) PublishPolicy(ctx context.Context, data []byte) error {
	if len(data) > MaxPolicySize {
		return ErrTooLarge
	}
	if _, err := cp.opts.Trust.ApplyPolicy(data, cp.now()); err != nil {
		return fmt.Errorf("mqtt: policy not published: %w", err)
	}
	if err := cp.publish(ctx, TopicPolicy, data, true); err != nil {
		return err
	}
	cp.policiesPublished.Add(1)
	return nil
}

// PublishRevocation verifies a CA-signed revocation list, refuses a
// rollback, and publishes it retained on pqc/v1/revocation.
func (cp *ControlPlane) PublishRevocation(ctx context.Context, data []byte) error {
	if len(data) > MaxRevocationSize {
		return ErrTooLarge
	}
	if _, err := cp.opts.Trust.ApplyRevocation(data); err != nil {
		return fmt.Errorf("mqtt: revocation list not published: %w", err)
	}
	if err := cp.publish(ctx, TopicRevocation, data, true); err != nil {
		return err
	}
	cp.revocationsPublished.Add(1)
	return nil
}

func (cp *ControlPlane) publish(ctx context.Context, topic string, data []byte, retained bool) error {
	if !cp.started.Load() {
		return ErrNotConnected
	}
	if err := wait(ctx, cp.pc.Publish(topic, 1, retained, data), cp.closed); err != nil {
		return fmt.Errorf("mqtt: publish %s: %w", topic, err)
	}
	return nil
}

func (cp *ControlPlane) onMessage(_ paho.Client, m paho.Message) {
	kind, id, err := classifyControl(m.Topic())
	if err != nil {
		cp.syncDropped.Add(1)
		return
	}
	switch kind {
	case ctlSyncRequest:
		if len(m.Payload()) > MaxSyncRequestSize {
			cp.syncDropped.Add(1)
			return
		}
		now := time.Now()
		cp.mu.Lock()
		ok := cp.peers.get(id).take(cp.opts.SyncPeer, now) && cp.global.take(cp.opts.SyncGlobal, now)
		cp.mu.Unlock()
		if !ok {
			cp.syncRateLimited.Add(1)
			return
		}
	case ctlPolicy, ctlRevocation:
	default:
		return // our own sync replies and the like
	}
	select {
	case cp.queue <- inboundFrame{topic: m.Topic(), payload: m.Payload(), kind: kind, id: id}:
	default:
		// Requests are idempotent: the device asks again.
		cp.syncDropped.Add(1)
	}
}

func (cp *ControlPlane) worker() {
	defer close(cp.done)
	for {
		var f inboundFrame
		select {
		case f = <-cp.queue:
		case <-cp.closed:
			return
		}
		t := cp.opts.Trust
		switch f.kind {
		case ctlPolicy:
			if _, err := t.ApplyPolicy(f.payload, cp.now()); err != nil {
				cp.droppedPolicy.Add(1)
			}
		case ctlRevocation:
			if _, err := t.ApplyRevocation(f.payload); err != nil {
				cp.droppedRevocation.Add(1)
			}
		case ctlSyncRequest:
			cp.answer(f.id)
		}
	}
}

// answer sends what it holds; a device with nothing to learn gets the same
// objects again, which its Trust accepts as no change.
func (cp *ControlPlane) answer(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), cp.opts.ConnectTimeout)
	defer cancel()
	sent := false
	if p := cp.opts.Trust.Policy(); p != nil {
		if cp.publish(ctx, SyncTopic(id)+syncReplyPolicy, p.Raw, false) == nil {
			sent = true
		}
	}
	if r := cp.opts.Trust.Revocation(); r != nil {
		if cp.publish(ctx, SyncTopic(id)+syncReplyRevoc, r.Raw, false) == nil {
			sent = true
		}
	}
	if sent {
		cp.syncAnswered.Add(1)
	} else {
		cp.syncDropped.Add(1)
	}
}

// Stats returns a snapshot of the counters.
func (cp *ControlPlane) Stats() ControlPlaneStats {
	return ControlPlaneStats{
		PoliciesPublished: cp.policiesPublished.Load(), RevocationsPublished: cp.revocationsPublished.Load(),
		SyncAnswered: cp.syncAnswered.Load(), SyncRateLimited: cp.syncRateLimited.Load(), SyncDropped: cp.syncDropped.Load(),
		DroppedPolicy: cp.droppedPolicy.Load(), DroppedRevocation: cp.droppedRevocation.Load(),
	}
}

// Close disconnects.
func (cp *ControlPlane) Close() error {
	cp.once.Do(func() {
		close(cp.closed)
		if cp.started.Load() {
			cp.pc.Disconnect(250)
			<-cp.done
		}
	})
	return nil
}
