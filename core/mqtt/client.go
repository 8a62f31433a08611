package mqtt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// Client is a secure MQTT client. It is safe for concurrent use.
//
// Handlers passed to Subscribe run one at a time, in arrival order, on the
// client's receive goroutine: a slow handler delays every subscription
// (and, once the inbound queue is full, the connection's reads, so the
// broker holds further messages). Hand long work to another goroutine.
type Client struct {
	opts   Options
	qos    byte
	now    func() time.Time
	id     string
	pc     paho.Client
	lim    *limiter
	hinter PeerHinter
	sc     *SessionCodec

	inbound chan inboundFrame
	recv    chan Message
	sem     chan struct{}

	mu     sync.Mutex
	subs   map[string]func(Message) // filter -> handler; nil handler: Recv
	subGen uint64                   // bumped by Subscribe, so setupSession sees late additions

	started       atomic.Bool
	everConnected atomic.Bool
	resyncing     atomic.Bool
	closed        chan struct{}
	closeOnce     sync.Once
	workerDone    chan struct{}

	c counters
}

type inboundFrame struct {
	topic    string
	payload  []byte
	retained bool
	kind     controlKind
	id       string // device id in a control topic
}

type counters struct {
	droppedOversize, droppedBadTopic, droppedRateLimited, droppedUnprotect,
	droppedAnnouncement, droppedPolicy, droppedRevocation, droppedSync, droppedNoHandler,
	delivered, acceptedAnnouncements, acceptedPolicies, acceptedRevocations,
	droppedNotForMe, droppedHandshake, droppedKeepRatchet, acceptedHandshakes, acceptedKeepRatchet,
	published, publishFailed, queueFull, reconnects, connectionLost atomic.Uint64
}

// NewClient checks the options and prepares a client; Connect starts it.
func NewClient(opts Options) (*Client, error) {
	if opts.Broker == "" {
		return nil, errors.New("mqtt: no broker URL")
	}
	scheme, _, ok := strings.Cut(opts.Broker, "://")
	if !ok {
		return nil, fmt.Errorf("mqtt: broker %q is not a URL", opts.Broker)
	}
	switch {
	case scheme == "tcp" || scheme == "mqtt":
	case isTLSScheme(scheme):
		if opts.TLSConfig == nil {
			return nil, fmt.Errorf("mqtt: %s:// needs a TLSConfig (a nil one would silently use defaults)", scheme)
		}
	default:
		return nil, fmt.Errorf("mqtt: unsupported scheme %q", scheme)
	}
	c := &Client{opts: opts, qos: 1, now: opts.Now, closed: make(chan struct{}), workerDone: make(chan struct{}),
		subs: map[string]func(Message){}}
	if opts.QoS != nil {
		if *opts.QoS > 1 {
			return nil, fmt.Errorf("mqtt: QoS %d not offered (QoS 1 + replay window is exactly-once to the application)", *opts.QoS)
		}
		c.qos = *opts.QoS
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.id = opts.ClientID
	if opts.Device != nil {
		if c.id == "" {
			c.id = opts.Device.ID()
		}
	}
	if c.id == "" {
		return nil, errors.New("mqtt: no client id and no device to take it from")
	}
	if (opts.Trust != nil || opts.Device != nil) && !identity.ValidID(c.id) {
		// The id names this client's sync topics; one that is not a valid
		// device id would make them unroutable or collide with others.
		return nil, fmt.Errorf("mqtt: client id %q is not a valid device id: %w", c.id, ErrBadTopic)
	}
	if h, ok := opts.Codec.(PeerHinter); ok {
		c.hinter = h
	}
	if sc, ok := opts.Codec.(*SessionCodec); ok {
		if opts.Trust == nil || opts.Device == nil {
			// Recipients and handshakes come from the control plane.
			return nil, errors.New("mqtt: a SessionCodec needs Options.Device and Options.Trust")
		}
		c.sc = sc
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.opts.QueueSize, 1000)
	def(&c.opts.InboundQueue, 256)
	def(&c.opts.RecvQueue, 1024)
	def(&c.opts.MaxPayload, DefaultMaxPayload)
	if c.opts.QueueSize > 60000 {
		// Packet ids are 16 bits; paho needs some for subscriptions too.
		c.opts.QueueSize = 60000
	}
	if c.opts.KeepAlive <= 0 {
		c.opts.KeepAlive = 30 * time.Second
	}
	if c.opts.ConnectTimeout <= 0 {
		c.opts.ConnectTimeout = 10 * time.Second
	}
	if c.opts.MaxReconnectInterval <= 0 {
		c.opts.MaxReconnectInterval = 30 * time.Second
	}
	c.lim = newLimiter(opts.Budgets)
	if opts.Trust != nil {
		if p := opts.Trust.Policy(); p != nil {
			c.lim.applyPolicy(p)
		}
	}
	c.inbound = make(chan inboundFrame, c.opts.InboundQueue)
	c.recv = make(chan Message, c.opts.RecvQueue)
	c.sem = make(chan struct{}, c.opts.QueueSize)

	po := paho.NewClientOptions().
		AddBroker(opts.Broker).
		SetClientID(c.id).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetCleanSession(opts.CleanSession).
		SetKeepAlive(c.opts.KeepAlive).
		SetConnectTimeout(c.opts.ConnectTimeout).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(c.opts.MaxReconnectInterval).
		SetConnectRetry(false).
		// We resubscribe ourselves so the control topics come first and a
		// broker that lost its state gets every filter back.
		SetResumeSubs(false).
		SetOrderMatters(true).
		SetDefaultPublishHandler(c.onMessage).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(func(paho.Client, error) { c.c.connectionLost.Add(1) }).
		SetCustomOpenConnectionFn(dialBroker)
	if opts.TLSConfig != nil {
		po.SetTLSConfig(opts.TLSConfig)
	}
	c.pc = paho.NewClient(po)
	if c.sc != nil {
		c.sc.attach(c)
	}
	return c, nil
}

// ID is the MQTT client id (the device id by default).
func (c *Client) ID() string { return c.id }

// Connect makes the first connection, subscribes the control plane and
// every filter subscribed so far, and publishes the device's announcement.
// Later connection losses are repaired automatically with back-off.
func (c *Client) Connect(ctx context.Context) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("mqtt: Connect called twice")
	}
	tok := c.pc.Connect()
	if err := wait(ctx, tok, c.closed); err != nil {
		c.started.Store(false)
		c.pc.Disconnect(0)
		return fmt.Errorf("mqtt: connect %s: %w", c.opts.Broker, err)
	}
	go c.worker()
	if err := c.setupSession(ctx); err != nil {
		return err
	}
	return nil
}

func (c *Client) onConnect(paho.Client) {
	if !c.everConnected.CompareAndSwap(false, true) {
		c.c.reconnects.Add(1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*c.opts.ConnectTimeout)
			defer cancel()
			if err := c.setupSession(ctx); err != nil && c.opts.OnError != nil {
				c.opts.OnError("", fmt.Errorf("mqtt: after reconnect: %w", err))
			}
		}()
	}
}

// setupSession runs after every connection. Policy and revocation are
// subscribed before the keys, so retained announcements meet an installed
// policy; the single receive goroutine keeps that order.
func (c *Client) setupSession(ctx context.Context) error {
	if c.opts.Trust != nil {
		ctl := map[string]byte{TopicPolicy: 1, TopicRevocation: 1, SyncTopic(c.id) + "/+": 1}
		if c.sc != nil {
			ctl[HandshakeTopic(c.id)] = 1
			ctl[RatchetTopic(c.id)] = 1
		}
		if err := wait(ctx, c.pc.SubscribeMultiple(ctl, nil), c.closed); err != nil {
			return fmt.Errorf("mqtt: subscribe control plane: %w", err)
		}
		if err := wait(ctx, c.pc.Subscribe(topicKeysAll, 1, nil), c.closed); err != nil {
			return fmt.Errorf("mqtt: subscribe %s: %w", topicKeysAll, err)
		}
	}
	// A Subscribe racing with a reconnect may find the connection down and
	// leave its filter to us after we took the snapshot: go round again
	// until no filter was added meanwhile.
	for gen := ^uint64(0); ; {
		c.mu.Lock()
		if c.subGen == gen {
			c.mu.Unlock()
			break
		}
		gen = c.subGen
		filters := make(map[string]byte, len(c.subs))
		for f := range c.subs {
			filters[f] = c.qos
		}
		c.mu.Unlock()
		if len(filters) > 0 {
			if err := wait(ctx, c.pc.SubscribeMultiple(filters, nil), c.closed); err != nil {
				return fmt.Errorf("mqtt: resubscribe: %w", err)
			}
		}
	}
	if c.opts.Device != nil {
		if err := c.Announce(ctx); err != nil {
			return err
		}
	}
	if t := c.opts.Trust; t != nil && t.CheckHighRisk(c.now()) != nil {
		// Nothing (or nothing fresh) retained on the broker, or a policy
		// demanding a newer revocation list: ask the control plane.
		if err := c.RequestSync(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Announce publishes the device's signed announcement, retained, on
// pqc/v1/keys/<device-id>. Connect does it; call it again after a key
// rotation.
func (c *Client) Announce(ctx context.Context) error {
	if c.opts.Device == nil {
		return errors.New("mqtt: no device to announce")
	}
	topic := KeysTopic(c.opts.Device.ID())
	ann, err := c.opts.Device.Announcement(topic, c.now())
	if err != nil {
		return fmt.Errorf("mqtt: announcement: %w", err)
	}
	if err := c.publishRaw(ctx, topic, ann, true, 1); err != nil {
		return fmt.Errorf("mqtt: announce: %w", err)
	}
	return nil
}

// RequestSync asks the control plane to send the current policy and
// revocation list to pqc/v1/sync/<id>/policy and .../revocation.
func (c *Client) RequestSync(ctx context.Context) error {
	if !identity.ValidID(c.id) {
		return fmt.Errorf("mqtt: client id %q cannot name a sync topic: %w", c.id, ErrBadTopic)
	}
	return c.publishRaw(ctx, SyncTopic(c.id), nil, false, 1)
}

// Publish protects payload for topic with the codec and publishes it,
// returning once the broker acknowledged it (PUBACK) at QoS 1. While the
// connection is down the message waits in a bounded queue and is sent on
// reconnect; when the queue is full Publish fails at once with
// ErrQueueFull. When Publish returns an error other than ErrQueueFull the
// message may still be delivered (at most once to the application, since
// receivers drop duplicates).
func (c *Client) Publish(ctx context.Context, topic string, payload []byte) error {
	return c.publish(ctx, topic, payload, false)
}

// PublishRetained is Publish with the retain flag: the broker keeps the
// last frame and hands it to future subscribers. A retained frame is
// verified like any other; a codec with a replay window accepts it once
// per receiver.
func (c *Client) PublishRetained(ctx context.Context, topic string, payload []byte) error {
	return c.publish(ctx, topic, payload, true)
}

func (c *Client) publish(ctx context.Context, topic string, payload []byte, retained bool) error {
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	if reserved(topic) {
		return fmt.Errorf("%q: %w", topic, ErrReservedTopic)
	}
	if c.opts.Codec == nil {
		return ErrNoCodec
	}
	if len(payload) > c.opts.MaxPayload {
		return fmt.Errorf("%d bytes: %w", len(payload), ErrTooLarge)
	}
	frame, err := c.opts.Codec.Protect(topic, payload)
	if err != nil {
		return fmt.Errorf("mqtt: protect: %w", err)
	}
	if len(frame) > c.opts.MaxPayload {
		return fmt.Errorf("protected frame of %d bytes: %w", len(frame), ErrTooLarge)
	}
	if err := c.publishRaw(ctx, topic, frame, retained, c.qos); err != nil {
		if !errors.Is(err, ErrQueueFull) {
			c.c.publishFailed.Add(1)
		}
		return err
	}
	c.c.published.Add(1)
	return nil
}

func (c *Client) publishRaw(ctx context.Context, topic string, frame []byte, retained bool, qos byte) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	if !c.started.Load() {
		return ErrNotConnected
	}
	select {
	case c.sem <- struct{}{}:
	default:
		c.c.queueFull.Add(1)
		return ErrQueueFull
	}
	for {
		tok := c.pc.Publish(topic, qos, retained, frame)
		select {
		case <-tok.Done():
			err := tok.Error()
			if errors.Is(err, paho.ErrNotConnected) && c.started.Load() {
				// Between losing the connection and starting to reconnect
				// paho refuses publishes outright (nothing was stored), so
				// retrying cannot duplicate.
				select {
				case <-time.After(50 * time.Millisecond):
					continue
				case <-ctx.Done():
					err = ctx.Err()
				case <-c.closed:
					err = ErrClosed
				}
			}
			<-c.sem
			if err != nil {
				return fmt.Errorf("mqtt: publish %s: %w", topic, err)
			}
			return nil
		case <-ctx.Done():
			// paho keeps the message and may still deliver it: the slot
			// stays taken until it does, so the bound stays honest.
			go func() {
				select {
				case <-tok.Done():
				case <-c.closed:
				}
				<-c.sem
			}()
			return fmt.Errorf("mqtt: publish %s: %w", topic, ctx.Err())
		case <-c.closed:
			<-c.sem
			return ErrClosed
		}
	}
}

// Subscribe subscribes to an MQTT topic filter (wildcards + and # work as
// in any MQTT client). Verified messages go to handler; with a nil handler
// they go to Recv. Retained messages matching the filter arrive right
// after. Subscribing the same filter again replaces the handler. Before
// Connect the filter is recorded and subscribed on connect.
func (c *Client) Subscribe(filter string, handler func(Message)) error {
	if err := ValidateFilter(filter); err != nil {
		return err
	}
	if reserved(filter) {
		return fmt.Errorf("%q: %w", filter, ErrReservedTopic)
	}
	c.mu.Lock()
	c.subs[filter] = handler
	c.subGen++
	c.mu.Unlock()
	if !c.started.Load() || !c.pc.IsConnectionOpen() {
		return nil // subscribed on (re)connect
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ConnectTimeout)
	defer cancel()
	tok := c.pc.Subscribe(filter, c.qos, nil)
	if err := wait(ctx, tok, c.closed); err != nil {
		return fmt.Errorf("mqtt: subscribe %q: %w", filter, err)
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		if q, ok := st.Result()[filter]; ok && q == 0x80 {
			return fmt.Errorf("mqtt: broker refused subscription %q", filter)
		}
	}
	return nil
}

// Unsubscribe removes a filter.
func (c *Client) Unsubscribe(filter string) error {
	c.mu.Lock()
	_, ok := c.subs[filter]
	delete(c.subs, filter)
	c.mu.Unlock()
	if !ok || !c.started.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ConnectTimeout)
	defer cancel()
	return wait(ctx, c.pc.Unsubscribe(filter), c.closed)
}

// Recv returns the next verified message of a subscription made with a nil
// handler: the polling twin of handlers, for FFI users.
func (c *Client) Recv(ctx context.Context) (Message, error) {
	select {
	case m := <-c.recv:
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-c.closed:
		return Message{}, ErrClosed
	}
}

// Connected reports whether the connection is up now.
func (c *Client) Connected() bool { return c.pc.IsConnectionOpen() }

// Close disconnects (waiting briefly for in-flight writes) and stops the
// receive goroutine. Pending Publish and Recv calls return ErrClosed.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		if c.started.Load() {
			c.pc.Disconnect(250)
			<-c.workerDone
		}
	})
	return nil
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	k := &c.c
	return Stats{
		DroppedOversize: k.droppedOversize.Load(), DroppedBadTopic: k.droppedBadTopic.Load(),
		DroppedRateLimited: k.droppedRateLimited.Load(), DroppedUnprotect: k.droppedUnprotect.Load(),
		DroppedAnnouncement: k.droppedAnnouncement.Load(), DroppedPolicy: k.droppedPolicy.Load(),
		DroppedRevocation: k.droppedRevocation.Load(), DroppedSync: k.droppedSync.Load(),
		DroppedNoHandler: k.droppedNoHandler.Load(), Delivered: k.delivered.Load(),
		AcceptedAnnouncements: k.acceptedAnnouncements.Load(), AcceptedPolicies: k.acceptedPolicies.Load(),
		AcceptedRevocations: k.acceptedRevocations.Load(), Published: k.published.Load(),
		DroppedNotForMe: k.droppedNotForMe.Load(), DroppedHandshake: k.droppedHandshake.Load(),
		DroppedKeepRatchet: k.droppedKeepRatchet.Load(), AcceptedHandshakes: k.acceptedHandshakes.Load(),
		AcceptedKeepRatchet: k.acceptedKeepRatchet.Load(),
		PublishFailed:       k.publishFailed.Load(), QueueFull: k.queueFull.Load(),
		Reconnects: k.reconnects.Load(), ConnectionLost: k.connectionLost.Load(),
	}
}

// Budgets returns the budgets in force (the policy's once one is installed).
func (c *Client) Budgets() Budgets { return c.lim.budgets() }

// onMessage runs on paho's reader: only the cheap checks happen here —
// syntax, size and the budget charge — so a flood is refused at the cost
// of a few comparisons, and nothing is parsed or verified before its
// budget was paid.
func (c *Client) onMessage(_ paho.Client, m paho.Message) {
	topic, payload := m.Topic(), m.Payload()
	now := time.Now()
	f := inboundFrame{topic: topic, payload: payload, retained: m.Retained()}
	if err := checkName(topic); err != nil || strings.ContainsAny(topic, "+#") {
		c.c.droppedBadTopic.Add(1)
		return
	}
	if reserved(topic) {
		kind, id, err := classifyControl(topic)
		if err != nil {
			c.c.droppedBadTopic.Add(1)
			return
		}
		limit := MaxPolicySize
		switch kind {
		case ctlKeys:
			limit = MaxAnnouncementSize
		case ctlRevocation, ctlSyncRevocation:
			limit = MaxRevocationSize
		case ctlSyncRequest:
			limit = MaxSyncRequestSize
		case ctlHandshake:
			limit = session.MaxHandshakeSize
		case ctlRatchet:
			limit = c.opts.MaxPayload
		}
		if len(payload) > limit {
			c.c.droppedOversize.Add(1)
			return
		}
		peer := id
		if peer == "" {
			peer = topic
		}
		if kind == ctlHandshake || kind == ctlRatchet {
			// The topic names us; charge the claimed initiator or sender,
			// so junk under other names cannot starve a genuine peer's
			// handshakes. Responses name no one: they share one bucket.
			peer = "hs-response"
			if s, ok := session.ClaimedSender(payload); ok && session.ValidID(s) {
				peer = s
			}
		}
		if !c.lim.allowControl(peer, now) {
			c.c.droppedRateLimited.Add(1)
			return
		}
		f.kind, f.id = kind, id
	} else {
		if len(payload) > c.opts.MaxPayload {
			c.c.droppedOversize.Add(1)
			return
		}
		peer := "topic:" + topic
		if c.hinter != nil {
			if s, ok := c.hinter.PeerHint(payload); ok && session.ValidID(s) {
				peer = s
			}
		}
		cost := 1.0
		if session.IsBundle(payload) {
			cost = sessionFrameCost
		}
		if !c.lim.allowData(peer, now, cost) {
			c.c.droppedRateLimited.Add(1)
			return
		}
	}
	select {
	case c.inbound <- f:
	case <-c.closed:
	}
}

// worker verifies and dispatches, one frame at a time, so handlers see
// messages in arrival order and control objects apply in order.
func (c *Client) worker() {
	defer close(c.workerDone)
	for {
		select {
		case f := <-c.inbound:
			if f.kind == ctlNone {
				c.handleData(f)
			} else {
				c.handleControl(f)
			}
		case <-c.closed:
			return
		}
	}
}

func (c *Client) fail(topic string, err error) {
	if c.opts.OnError != nil {
		c.opts.OnError(topic, err)
	}
}

func (c *Client) handleData(f inboundFrame) {
	if c.opts.Codec == nil {
		c.c.droppedUnprotect.Add(1)
		c.fail(f.topic, ErrNoCodec)
		return
	}
	sender, plain, err := c.opts.Codec.Unprotect(f.topic, f.payload)
	if errors.Is(err, ErrNotForMe) {
		c.c.droppedNotForMe.Add(1)
		return
	}
	if err != nil {
		c.c.droppedUnprotect.Add(1)
		c.fail(f.topic, err)
		return
	}
	c.lim.markVerified(sender)
	msg := Message{Topic: f.topic, Sender: sender, Payload: plain, Retained: f.retained}
	c.mu.Lock()
	var handlers []func(Message)
	toRecv := false
	for filter, h := range c.subs {
		if !Match(filter, f.topic) {
			continue
		}
		if h == nil {
			toRecv = true
		} else {
			handlers = append(handlers, h)
		}
	}
	c.mu.Unlock()
	if len(handlers) == 0 && !toRecv {
		c.c.droppedNoHandler.Add(1)
		return
	}
	c.c.delivered.Add(1)
	for _, h := range handlers {
		h(msg)
	}
	if toRecv {
		select {
		case c.recv <- msg:
		case <-c.closed:
		}
	}
}

// wait waits for a paho token, a context or the client's end.
func wait(ctx context.Context, tok paho.Token, closed <-chan struct{}) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return ErrClosed
	}
}
