package coap

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	piondtls "github.com/pion/dtls/v3"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"

	"github.com/plgd-dev/go-coap/v3/dtls"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/pkg/runner/periodic"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpClient "github.com/plgd-dev/go-coap/v3/udp/client"

	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// Client talks to one server in one mode. It is safe for concurrent use.
type Client struct {
	cfg      Config
	conn     *udpClient.Conn
	local    *session.Local
	ownLocal bool
	signed   *signedCodec
	seq      *seqSource
	mgr      *session.Manager

	hsMu sync.Mutex // one handshake at a time
	mu   sync.Mutex
	sess *session.Session
	osc  *oscoreConn
	done chan struct{} // closed by Close: stops go-coap's periodic runner
	once sync.Once
	// life ends with Close: observations fetch the rest of block-wise
	// notifications under it, not under the context Observe was given.
	life context.Context
	end  context.CancelFunc
}

// Dial connects to addr ("host:port") over UDP, or DTLS when cfg.DTLS is
// set. In session mode the handshake runs on the first request.
func Dial(addr string, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(true); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, done: make(chan struct{})}
	c.life, c.end = context.WithCancel(context.Background())
	if cfg.Mode != ModePlain {
		var err error
		if c.local, c.ownLocal, err = cfg.local(); err != nil {
			return nil, err
		}
	}
	if err := c.setup(); err != nil {
		c.release()
		return nil, err
	}
	var opts []udp.Option
	// Block-wise transfers are ours (blocks.go), not go-coap's.
	opts = append(opts, options.WithMaxMessageSize(uint32(cfg.MaxPayload+maxSignedOverhead+1024)),
		options.WithBlockwise(false, blockwise.SZX1024, cfg.Timeout))
	if nstart, ack, retransmit, ok := cfg.transmission(); ok {
		opts = append(opts, options.WithTransmission(nstart, ack, retransmit))
	}
	if cfg.Mode == ModeOSCORE {
		opts = append(opts, options.WithMTU(oscoreMTU))
	}
	// go-coap lets one request per connection be outstanding by default:
	// concurrent callers of one Client would wait for each other.
	opts = append(opts, options.WithLimitClientParallelRequest(int64(cfg.MaxInFlight)),
		options.WithLimitClientEndpointParallelRequest(int64(cfg.MaxInFlight)))
	opts = append(opts, options.WithPeriodicRunner(periodic.New(c.done, cfg.tick())), options.WithErrors(cfg.Errors))
	var err error
	if cfg.DTLS != nil {
		pc, perr := cfg.DTLS.pion(false, cfg.Errors)
		if perr != nil {
			c.release()
			return nil, perr
		}
		c.conn, err = dialDTLS(addr, pc, cfg.Timeout, cfg.Errors, opts...)
	} else {
		c.conn, err = udp.Dial(addr, opts...)
	}
	if err != nil {
		c.release()
		return nil, fmt.Errorf("coap: dial %s: %w", addr, err)
	}
	return c, nil
}

// dialDTLS completes the DTLS handshake, bounded by timeout, before go-coap
// gets the connection. Left to go-coap, the handshake starts lazily from
// two goroutines at once: its read loop (whose context has no deadline) and
// the first request. pion runs one handshake and makes the other caller
// wait on a mutex that ignores contexts, so when the read loop won and the
// handshake could never finish (a wrong PSK: the server drops the client's
// Finished without an alert) the request blocked forever instead of failing
// after its timeout. Seen under qemu, where the read loop often wins.
//
// A failed handshake is returned and also reported to errs, as go-coap's
// read loop reported it before.
func dialDTLS(addr string, pc *piondtls.Config, timeout time.Duration, errs func(error), opts ...udp.Option) (*udpClient.Conn, error) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	uc, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return nil, err
	}
	dc, err := piondtls.Client(dtlsnet.PacketConnFromConn(uc), raddr, pc)
	if err != nil {
		_ = uc.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := dc.HandshakeContext(ctx); err != nil {
		_ = dc.Close()
		err = fmt.Errorf("dtls handshake: %w", err)
		if errs != nil {
			errs(err)
		}
		return nil, err
	}
	// WithCloseSocket: closing the go-coap connection closes the socket,
	// as go-coap's own Dial arranges.
	return dtls.Client(dc, append(opts, options.WithCloseSocket())...), nil
}

func (c *Client) setup() error {
	switch c.cfg.Mode {
	case ModeSigned:
		c.seq = &seqSource{st: c.cfg.Store}
		var err error
		c.signed, err = newSignedCodec(c.local, session.TrustPeers{Trust: c.cfg.Trust}, c.seq, c.cfg.Now, c.cfg.MaxPayload)
		return err
	case ModeSession, ModeOSCORE:
		c.mgr = session.NewManager(session.Config{Local: c.local, Trust: c.cfg.Trust, Store: c.cfg.Store, Volatile: c.cfg.Volatile, Now: c.cfg.Now})
	}
	return nil
}

// Close ends the connection and wipes the session and keys.
func (c *Client) Close() error {
	var err error
	if c.conn != nil {
		err = c.conn.Close()
	}
	c.release()
	return err
}

func (c *Client) release() {
	c.once.Do(func() { close(c.done); c.end() })
	c.mu.Lock()
	if c.sess != nil {
		c.sess.Close()
		c.sess, c.osc = nil, nil
	}
	c.mu.Unlock()
	if c.mgr != nil {
		c.mgr.Close()
	}
	if c.ownLocal {
		c.local.Wipe()
	}
}

// Get, Post, Put and Delete are Do with the method. A path may carry a
// query ("/t?unit=C&avg=1").
func (c *Client) Get(ctx context.Context, path string) (*Response, error) {
	return c.Do(ctx, codes.GET, path, NoContentFormat, nil)
}

func (c *Client) Post(ctx context.Context, path string, cf int, payload []byte) (*Response, error) {
	return c.Do(ctx, codes.POST, path, cf, payload)
}

func (c *Client) Put(ctx context.Context, path string, cf int, payload []byte) (*Response, error) {
	return c.Do(ctx, codes.PUT, path, cf, payload)
}

func (c *Client) Delete(ctx context.Context, path string) (*Response, error) {
	return c.Do(ctx, codes.DELETE, path, NoContentFormat, nil)
}

// Do sends one confirmable request and returns the verified response. A
// response that fails verification is an error, never a Response; an
// unprotected error from a server that could not authenticate the request
// is ErrRejected with the code.
func (c *Client) Do(ctx context.Context, method codes.Code, path string, cf int, payload []byte) (*Response, error) {
	if len(payload) > c.cfg.MaxPayload {
		return nil, fmt.Errorf("%w: %d-byte payload", ErrTooLarge, len(payload))
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	// One retry covers the two states a server restart leaves: a session
	// it no longer knows, a replay floor above our sequence.
	for attempt := 0; ; attempt++ {
		resp, err := c.exchange(ctx, method, path, cf, payload)
		if err == nil || attempt > 0 || !c.recover(err) {
			return resp, err
		}
	}
}

// refusal is an unprotected error response.
type refusal struct {
	code codes.Code
	diag string
}

func (r *refusal) Error() string {
	return fmt.Sprintf("%v: %v %s", ErrRejected, r.code, r.diag)
}
func (r *refusal) Unwrap() error { return ErrRejected }

// Code returns the CoAP code of a rejection (ErrRejected), if err is one.
func Code(err error) (codes.Code, bool) {
	var r *refusal
	if errors.As(err, &r) {
		return r.code, true
	}
	return 0, false
}

func (c *Client) recover(err error) bool {
	var r *refusal
	if !errors.As(err, &r) || r.code != codes.Unauthorized {
		return false
	}
	switch {
	case (r.diag == diagUnknownSession || r.diag == diagNoContext) && c.mgr != nil:
		c.dropSession()
		return true
	case strings.HasPrefix(r.diag, diagReplayFloor) && c.seq != nil:
		floor, perr := strconv.ParseUint(strings.TrimPrefix(r.diag, diagReplayFloor), 10, 64)
		return perr == nil && c.seq.SkipPast(floor)
	}
	return false
}

func (c *Client) exchange(ctx context.Context, method codes.Code, path string, cf int, payload []byte) (*Response, error) {
	if c.cfg.Mode == ModeOSCORE {
		return c.exchangeOSCORE(ctx, method, path, cf, payload)
	}
	req, err := c.newRequest(ctx, method, path, -1)
	if err != nil {
		return nil, err
	}
	defer c.conn.ReleaseMessage(req)
	open, err := c.protect(ctx, req, cf, payload)
	if err != nil {
		return nil, err
	}
	resp, err := doBlockwise(ctx, c.conn, req, c.cfg.MaxPayload+maxSignedOverhead)
	if err != nil {
		return nil, fmt.Errorf("coap: %v %s: %w", method, path, err)
	}
	defer c.conn.ReleaseMessage(resp)
	return open(resp)
}

// newRequest builds a confirmable request with a fresh token.
func (c *Client) newRequest(ctx context.Context, method codes.Code, path string, observe int) (*pool.Message, error) {
	p, q, _ := strings.Cut(path, "?")
	req, err := c.conn.NewGetRequest(ctx, cleanPath(p))
	if err != nil {
		return nil, fmt.Errorf("coap: request: %w", err)
	}
	req.SetCode(method)
	req.SetType(message.Confirmable)
	if q != "" {
		for _, part := range strings.Split(q, "&") {
			req.AddQuery(part)
		}
	}
	if observe >= 0 {
		req.SetObserve(uint32(observe))
	}
	return req, nil
}

// opener verifies a response to the request it was made for.
type opener func(resp *pool.Message) (*Response, error)

// protect sets the protected payload of req and returns how to open the
// responses to it.
func (c *Client) protect(ctx context.Context, req *pool.Message, cf int, payload []byte) (opener, error) {
	md, err := metaOf(req)
	if err != nil {
		return nil, err
	}
	if c.cfg.Mode != ModePlain {
		// The real method is protected inside; see outerCode.
		req.SetCode(outerCode(md.code))
	}
	switch c.cfg.Mode {
	case ModePlain:
		setBody(req, cf, payload)
		return func(resp *pool.Message) (*Response, error) { return plainResponse(resp, c.cfg.MaxPayload) }, nil
	case ModeSigned:
		out, err := c.signed.seal(roleRequest, &md, cf, nil, payload)
		if err != nil {
			return nil, err
		}
		setBody(req, cfCOSESign1, out)
		return c.signedOpener(&md, digest(out)), nil
	case ModeSession:
		s, err := c.session(ctx)
		if err != nil {
			return nil, err
		}
		out, err := sealEnvelope(s, roleRequest, &md, cf, nil, payload)
		if err != nil {
			return nil, err
		}
		setBody(req, int(message.AppOctets), out)
		return c.sessionOpener(s, &md, digest(out)), nil
	}
	return nil, fmt.Errorf("%w: %v", ErrUnsupported, c.cfg.Mode)
}

func setBody(req *pool.Message, cf int, payload []byte) {
	if cf != NoContentFormat {
		req.SetContentFormat(message.MediaType(cf))
	}
	if payload != nil {
		req.SetBody(bytes.NewReader(payload))
	}
}

// responseParts reads a response, turning unprotected errors into a
// refusal when want (the payload a protected response must have) is absent.
func responseParts(resp *pool.Message, limit int, protectedCF int) (meta, []byte, error) {
	md, err := metaOf(resp)
	if err != nil {
		return md, nil, err
	}
	body, err := readBody(resp.Body(), limit)
	if err != nil {
		return md, nil, err
	}
	cf, cfErr := resp.ContentFormat()
	if protectedCF >= 0 && (cfErr != nil || int(cf) != protectedCF) {
		if md.code >= codes.BadRequest {
			return md, nil, &refusal{code: md.code, diag: string(body)}
		}
		return md, nil, fmt.Errorf("%w: unprotected %v response", ErrAuth, md.code)
	}
	return md, body, nil
}

func plainResponse(resp *pool.Message, limit int) (*Response, error) {
	md, body, err := responseParts(resp, limit, -1)
	if err != nil {
		return nil, err
	}
	out := &Response{Code: md.code, ContentFormat: NoContentFormat, Payload: body}
	if cf, err := resp.ContentFormat(); err == nil && body != nil {
		out.ContentFormat = int(cf)
	}
	return out, nil
}

func (c *Client) signedOpener(req *meta, d []byte) opener {
	return func(resp *pool.Message) (*Response, error) {
		md, body, err := responseParts(resp, c.cfg.MaxPayload+maxSignedOverhead, cfCOSESign1)
		if err != nil {
			return nil, err
		}
		sm, err := c.signed.open(body, roleResponse, req.forResponse(&md), d, func(sm *signedMsg) error {
			return signerIs(sm, c.cfg.Peer)
		})
		if err != nil {
			return nil, err
		}
		return &Response{Code: md.code, ContentFormat: sm.cf, Payload: sm.msg.Payload, Sender: sm.sender}, nil
	}
}

func (c *Client) sessionOpener(s *session.Session, req *meta, d []byte) opener {
	return func(resp *pool.Message) (*Response, error) {
		md, body, err := responseParts(resp, c.cfg.MaxPayload+maxSignedOverhead, int(message.AppOctets))
		if err != nil {
			return nil, err
		}
		pt, err := s.UnprotectBound(body, outerBinding(roleResponse, req.forResponse(&md), d))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		cf, payload, err := openEnvelope(pt, roleResponse, req.forResponse(&md), d)
		if err != nil {
			return nil, err
		}
		return &Response{Code: md.code, ContentFormat: cf, Payload: payload, Sender: s.Peer()}, nil
	}
}

// session returns the current session, running the handshake if needed.
func (c *Client) session(ctx context.Context) (*session.Session, error) {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	c.mu.Lock()
	s = c.sess
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := c.handshake(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return s, nil
}

func (c *Client) handshake(ctx context.Context) (*session.Session, error) {
	hctx := ctxSession
	if c.cfg.Mode == ModeOSCORE {
		hctx = ctxOSCORE
	}
	init, err := c.mgr.Initiate(c.cfg.Peer, hctx)
	if err != nil {
		return nil, fmt.Errorf("coap: handshake: %w", err)
	}
	req, err := c.newRequest(ctx, codes.POST, HandshakePath, -1)
	if err != nil {
		return nil, err
	}
	defer c.conn.ReleaseMessage(req)
	setBody(req, int(message.AppOctets), init)
	resp, err := doBlockwise(ctx, c.conn, req, c.cfg.MaxPayload+maxSignedOverhead)
	if err != nil {
		return nil, fmt.Errorf("coap: handshake: %w", err)
	}
	defer c.conn.ReleaseMessage(resp)
	_, body, err := responseParts(resp, c.cfg.MaxPayload+maxSignedOverhead, int(message.AppOctets))
	if err != nil {
		return nil, fmt.Errorf("coap: handshake: %w", err)
	}
	_, s, err := c.mgr.HandleHandshake(body)
	if err != nil {
		return nil, fmt.Errorf("%w: handshake: %w", ErrAuth, err)
	}
	if s == nil || s.Peer() != c.cfg.Peer {
		return nil, fmt.Errorf("%w: handshake did not complete with %s", ErrAuth, c.cfg.Peer)
	}
	return s, nil
}

func (c *Client) dropSession() {
	c.mu.Lock()
	s := c.sess
	c.sess, c.osc = nil, nil
	c.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// Observation is a running Observe registration.
type Observation struct {
	obs observation
}

// Cancel deregisters the observation.
func (o *Observation) Cancel(ctx context.Context) error { return o.obs.Cancel(ctx) }

// muxObservation adapts go-coap's observation; stop ends the fetching of
// block-wise notifications.
type muxObservation struct {
	mux.Observation
	stop context.CancelFunc
}

func (m muxObservation) Cancel(ctx context.Context) error {
	m.stop()
	return m.Observation.Cancel(ctx)
}

// refusedObservation is an Observe whose first answer was not 2.05: the
// server registered nothing, so there is nothing to cancel.
type refusedObservation struct{}

func (refusedObservation) Cancel(context.Context) error { return nil }

// errObserveRefused recognises go-coap's error for a first answer to
// Observe that is neither 2.05 nor 2.03 (net/observation in go-coap
// v3.8.0). That answer has reached our callback too, protected: Observe
// returns it verified, code and all, instead of go-coap's string.
// TestObserveRefusedFirstAnswer fails if a go-coap upgrade changes it.
func errObserveRefused(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "unexpected return code(")
}

// Observe registers for notifications of path: fn gets each verified
// notification in order (stale or unverifiable ones are dropped). The
// first response comes back from Observe itself, whatever its code: a
// verified 4.04 or 4.03 is a Response (Code says it) and an Observation
// whose Cancel does nothing, as the server registered nothing. ctx bounds
// the registration only; notifications keep coming until Cancel or Close.
func (c *Client) Observe(ctx context.Context, path string, fn func(*Response)) (*Observation, *Response, error) {
	if c.cfg.Mode == ModeOSCORE {
		return c.observeOSCORE(ctx, path, fn)
	}
	req, err := c.newRequest(ctx, codes.GET, path, 0)
	if err != nil {
		return nil, nil, err
	}
	defer c.conn.ReleaseMessage(req)
	open, err := c.protect(ctx, req, NoContentFormat, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := c.sendAllButLastBlock(ctx, req); err != nil {
		return nil, nil, fmt.Errorf("coap: observe %s: %w", path, err)
	}
	n := &notifications{c: c, open: open, fn: fn, last: -1, code: req.Code(),
		first: make(chan *Response, 1), ferr: make(chan error, 1)}
	n.ctx, n.stop = context.WithCancel(c.life)
	stop := n.stop
	n.path, _ = req.Path()
	obs, err := c.conn.DoObserve(req, n.receive)
	if err != nil && !errObserveRefused(err) {
		stop()
		return nil, nil, fmt.Errorf("coap: observe %s: %w", path, err)
	}
	// On a refusal go-coap returns a typed nil: there is no observation.
	registered := err == nil
	var o observation = refusedObservation{}
	if registered {
		o = muxObservation{Observation: obs, stop: stop}
	}
	select {
	case r := <-n.first:
		if !registered || r.Code != codes.Content {
			stop()
		}
		return &Observation{obs: o}, r, nil
	case err := <-n.ferr:
		stop()
		_ = o.Cancel(ctx)
		return nil, nil, fmt.Errorf("coap: observe %s: %w", path, err)
	case <-ctx.Done():
		stop()
		_ = o.Cancel(context.Background())
		return nil, nil, ctx.Err()
	}
}

type observation interface{ Cancel(context.Context) error }

// sendAllButLastBlock sends the leading Block1 blocks of a registration
// longer than one block (RFC 7959 §2.5: only the last carries Observe) and
// leaves req as the last block.
func (c *Client) sendAllButLastBlock(ctx context.Context, req *pool.Message) error {
	payload, err := readBody(req.Body(), c.cfg.MaxPayload+maxSignedOverhead)
	if err != nil || len(payload) <= blockSize {
		return err
	}
	obs, _ := req.Observe()
	req.Remove(message.Observe)
	lastNum := int64((len(payload) - 1) / blockSize)
	token := bytes.Clone(req.Token())
	tag := make([]byte, 8)
	_, _ = rand.Read(tag)
	req.SetOptionBytes(message.RequestTag, tag)
	for num := range lastNum {
		part, _, _ := slice(payload, num)
		if err := setBlock(req, num, true, part, token); err != nil {
			return err
		}
		req.SetMessageID(c.conn.GetMessageID())
		resp, err := c.conn.Do(req)
		if err != nil {
			return err
		}
		code := resp.Code()
		c.conn.ReleaseMessage(resp)
		if code != codes.Continue {
			return &refusal{code: code}
		}
	}
	part, _, _ := slice(payload, lastNum)
	req.SetObserve(obs)
	if err := setBlock(req, lastNum, false, part, token); err != nil {
		return err
	}
	req.SetMessageID(c.conn.GetMessageID())
	return nil
}

// notifications verifies and delivers an observation's responses in
// Observe order; one longer than a block is fetched whole first.
type notifications struct {
	c         *Client
	ctx       context.Context // ends with the observation
	stop      context.CancelFunc
	open      opener
	fn        func(*Response)
	path      string
	code      codes.Code
	mu        sync.Mutex
	last      int64
	seenFirst bool
	first     chan *Response
	ferr      chan error
}

// receive runs on go-coap's receive path: fetching more blocks there would
// wait for itself, so that happens on another goroutine.
func (n *notifications) receive(m *pool.Message) {
	num, more, ok, _ := blockOf(m, message.Block2)
	if !ok || !more || num != 0 {
		n.deliver(m)
		return
	}
	cp := n.c.conn.AcquireMessage(n.ctx)
	if err := m.Clone(cp); err != nil {
		n.c.conn.ReleaseMessage(cp)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(n.ctx, n.c.cfg.Timeout)
		defer cancel()
		full, err := fetchRest(ctx, n.c.conn, n.path, n.code, cp, n.c.cfg.MaxPayload+maxSignedOverhead)
		if err != nil {
			return
		}
		defer n.c.conn.ReleaseMessage(full)
		n.deliver(full)
	}()
}

func (n *notifications) deliver(m *pool.Message) {
	r, err := n.open(m)
	o, oerr := m.Observe()
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.seenFirst {
		n.seenFirst = true
		if err != nil {
			n.ferr <- err
			return
		}
		if oerr == nil {
			n.last = int64(o)
		}
		n.first <- r
		return
	}
	if err != nil || oerr != nil || int64(o) <= n.last {
		return // unverifiable, or older than one already delivered
	}
	n.last = int64(o)
	n.fn(r)
}
