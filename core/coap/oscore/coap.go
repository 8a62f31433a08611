package oscore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// go-coap rejects messages carrying critical options it does not know with
// 4.02 before any handler runs, and the OSCORE option (9) is critical. Its
// option table is the library's extension point; registering the option here
// lets the transport pass OSCORE messages to Handler.
func init() {
	if _, ok := message.CoapOptionDefs[OptionNumber]; !ok {
		message.CoapOptionDefs[OptionNumber] = message.OptionDef{ValueFormat: message.ValueOpaque, MinLen: 0, MaxLen: maxOptionLen}
	}
}

// Sentinel errors of the go-coap integration.
var (
	ErrUnprotectedResponse = errors.New("oscore: server answered without OSCORE")
	ErrNotNotification     = errors.New("oscore: message written on an OSCORE connection is not a notification of this request")
)

// ServerError is an unprotected error response (RFC 8613 §8.2) received by the client.
type ServerError struct {
	Code       codes.Code
	Diagnostic string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("%v: %s (%s)", ErrUnprotectedResponse, e.Code, e.Diagnostic)
}

func (e *ServerError) Unwrap() error { return ErrUnprotectedResponse }

// Resolver finds the security context for a request's kid and kid context
// (kidContext is nil when the request carries none). It returns
// ErrContextNotFound (or an error wrapping it) for unknown senders.
type Resolver func(kid, kidContext []byte) (*Context, error)

// fromPool copies a go-coap pool message into a plain message.
func fromPool(m *pool.Message) (message.Message, error) {
	body, err := m.ReadBody()
	if err != nil {
		return message.Message{}, fmt.Errorf("oscore: read body: %w", err)
	}
	opts, err := m.Options().Clone()
	if err != nil {
		return message.Message{}, fmt.Errorf("oscore: copy options: %w", err)
	}
	return message.Message{
		Token: m.Token(), Code: m.Code(), Options: opts, Payload: body,
		Type: m.Type(), MessageID: m.MessageID(),
	}, nil
}

// fillPool writes code, options and payload of src into dst (token, type and
// message ID are left as dst has them).
func fillPool(dst *pool.Message, src message.Message) {
	dst.SetCode(src.Code)
	dst.ResetOptionsTo(src.Options)
	if len(src.Payload) > 0 {
		dst.SetBody(bytes.NewReader(src.Payload))
	} else {
		dst.SetBody(nil)
	}
}

// Client sends OSCORE-protected requests over a go-coap UDP (or DTLS) client
// connection. It is safe for concurrent use.
type Client struct {
	conn        *udpclient.Conn
	sc          *Context
	echoRetries atomic.Uint64
}

// EchoRetries counts requests repeated with an Echo option because the server
// had lost its replay window (RFC 8613 Appendix B.1.2).
func (c *Client) EchoRetries() uint64 { return c.echoRetries.Load() }

// NewClient wraps conn so that every request is protected with sc.
func NewClient(conn *udpclient.Conn, sc *Context) *Client { return &Client{conn: conn, sc: sc} }

// Context returns the client's security context.
func (c *Client) Context() *Context { return c.sc }

// Do protects req, sends it and returns the verified, decrypted response. A
// protected 4.01 with an Echo option (a server that lost its replay window) is
// retried once with that Echo. Bodies above 1024 bytes are sent as inner
// Block1 transfers of 512-byte blocks (smaller when the server asks for
// smaller ones) under a random Request-Tag, and an inner Block2 response is
// fetched block by block and returned whole (RFC 8613 §4.1.3.4.1, RFC 7959,
// RFC 9175 §3). Every block exchange uses a fresh token, so that a late
// answer to an earlier block cannot be taken for the current one. An
// unprotected error response becomes a *ServerError.
func (c *Client) Do(ctx context.Context, req *pool.Message) (*pool.Message, error) {
	plain, err := fromPool(req)
	if err != nil {
		return nil, err
	}
	if len(plain.Token) == 0 {
		if plain.Token, err = message.GetToken(); err != nil {
			return nil, fmt.Errorf("oscore: token: %w", err)
		}
	}
	plain = tagLargeBody(plain)
	resp, err := c.send(ctx, plain)
	if err != nil {
		return nil, err
	}
	if asked, ok, _ := blockOption(plain.Options, message.Block2); !ok || asked.num == 0 {
		// A caller asking for one later block gets that block; otherwise the
		// whole body is fetched.
		if resp, err = c.fetchRest(ctx, plain, resp); err != nil {
			return nil, err
		}
	}
	out := pool.NewMessage(ctx)
	out.SetMessage(resp)
	return out, nil
}

// tagLargeBody gives a request that will travel as Block1 blocks a random
// Request-Tag (unless it has one), so that the server cannot mix its blocks
// with those of another transfer to the same resource (RFC 9175 §3.3).
func tagLargeBody(plain message.Message) message.Message {
	if len(plain.Payload) <= maxUnsplitRequest || plain.Options.HasOption(message.Block1) || plain.Options.HasOption(message.RequestTag) {
		return plain
	}
	tag := make([]byte, requestTagLen)
	_, _ = rand.Read(tag) // never fails (crypto/rand crashes the program instead)
	plain.Options = setOption(plain.Options, message.Option{ID: message.RequestTag, Value: tag})
	return plain
}

// maxUnsplitRequest is the longest request body the client sends whole.
const maxUnsplitRequest = 2 << (defaultBlockSZX + 4)

// exchange is one protected round trip, repeated once with the server's Echo
// when it answers 4.01 + Echo (RFC 9175, RFC 8613 Appendix B.1.2).
func (c *Client) exchange(ctx context.Context, plain message.Message) (message.Message, error) {
	resp, err := c.roundTrip(ctx, plain)
	if err != nil {
		return message.Message{}, err
	}
	echo, echoErr := resp.Options.GetBytes(message.Echo)
	if resp.Code != codes.Unauthorized || echoErr != nil {
		return resp, nil
	}
	c.echoRetries.Add(1)
	plain.Options = setOption(plain.Options, message.Option{ID: message.Echo, Value: echo})
	return c.roundTrip(ctx, plain)
}

// send transmits plain, as inner Block1 blocks when its body is large. Blocks
// are cut by byte offset: when a 2.31 Continue asks for a smaller size, the
// next block starts where the acknowledged one ended, numbered in the new
// size (RFC 7959 §2.5).
func (c *Client) send(ctx context.Context, plain message.Message) (message.Message, error) {
	if len(plain.Payload) <= maxUnsplitRequest || plain.Options.HasOption(message.Block1) {
		return c.exchange(ctx, plain)
	}
	if len(plain.Payload) > MaxInnerBody {
		return message.Message{}, fmt.Errorf("%w: %d bytes", ErrBodyTooLarge, len(plain.Payload))
	}
	szx := uint32(defaultBlockSZX)
	for off := 0; ; {
		end := min(off+1<<(szx+4), len(plain.Payload))
		b := blockAt(off, szx, end < len(plain.Payload))
		part := plain
		part.Payload = plain.Payload[off:end]
		part.Options = setOption(plain.Options, b.option(message.Block1))
		if off > 0 {
			part.Token = freshToken(plain.Token)
		}
		resp, err := c.exchange(ctx, part)
		if err != nil {
			return message.Message{}, fmt.Errorf("oscore: Block1 %d: %w", b.num, err)
		}
		if !b.more || resp.Code != codes.Continue {
			// Last block answered, or the server stopped the transfer early.
			resp.Options = without(resp.Options, message.Block1)
			return resp, nil
		}
		off = end
		if ack, ok, err := blockOption(resp.Options, message.Block1); err == nil && ok && ack.szx < szx {
			szx = ack.szx // off is a multiple of the old size, so of the new one too
		}
	}
}

// freshToken returns a new random token, or old if none can be drawn (the
// exchange then still works; only the late-answer protection is lost).
func freshToken(old message.Token) message.Token {
	t, err := message.GetToken()
	if err != nil {
		return old
	}
	return t
}

// fetchRest completes an inner Block2 response by requesting the blocks
// after the ones received, by byte offset in the size the server used. The
// follow-up requests repeat the request without body, Block1 and Observe
// (RFC 7959 §2.4, §2.6). Every block must continue the body where it
// stopped, with the first block's code and ETag.
func (c *Client) fetchRest(ctx context.Context, plain, resp message.Message) (message.Message, error) {
	b, ok, err := blockOption(resp.Options, message.Block2)
	if err != nil {
		return message.Message{}, err
	}
	if !ok {
		return resp, nil
	}
	if b.num != 0 {
		return message.Message{}, fmt.Errorf("%w: first answer is block %d", ErrBlockMixup, b.num)
	}
	etag, _ := resp.Options.GetBytes(message.ETag)
	body := append([]byte{}, resp.Payload...)
	follow := plain
	follow.Payload = nil
	follow.Options = without(plain.Options, message.Block1, message.Observe, message.Echo)
	for b.more {
		next := blockAt(len(body), b.szx, false)
		req := follow
		req.Token = freshToken(plain.Token)
		req.Options = setOption(follow.Options, next.option(message.Block2))
		r, err := c.exchange(ctx, req)
		if err != nil {
			return message.Message{}, fmt.Errorf("oscore: Block2 %d: %w", next.num, err)
		}
		if b, err = continues(r, resp.Code, etag, len(body)); err != nil {
			return message.Message{}, err
		}
		if len(body)+len(r.Payload) > MaxInnerBody {
			return message.Message{}, ErrBodyTooLarge
		}
		body = append(body, r.Payload...)
	}
	resp.Payload = body
	resp.Options = without(resp.Options, message.Block2, message.Size2)
	return resp, nil
}

// continues checks that r is the Block2 block starting at offset off of a
// response with code and etag, and returns its Block2 value.
func continues(r message.Message, code codes.Code, etag []byte, off int) (block, error) {
	nb, ok, err := blockOption(r.Options, message.Block2)
	if err != nil || !ok || r.Code != code || nb.offset() != off {
		return block{}, fmt.Errorf("%w: %v (Block2 present %v, num %d)", ErrBlockMixup, r.Code, ok, nb.num)
	}
	if nb.more && len(r.Payload) != nb.size() || len(r.Payload) == 0 {
		return block{}, fmt.Errorf("%w: block %d of %d bytes", ErrBlockMixup, nb.num, len(r.Payload))
	}
	if tag, _ := r.Options.GetBytes(message.ETag); !bytes.Equal(tag, etag) {
		return block{}, fmt.Errorf("%w: ETag changed during the transfer", ErrBlockMixup)
	}
	return nb, nil
}

func (c *Client) roundTrip(ctx context.Context, plain message.Message) (message.Message, error) {
	prot, ex, err := c.sc.ProtectRequest(plain)
	if err != nil {
		return message.Message{}, err
	}
	outer := c.conn.AcquireMessage(ctx)
	defer c.conn.ReleaseMessage(outer)
	outer.SetToken(prot.Token)
	fillPool(outer, prot)
	raw, err := c.conn.Do(outer)
	if err != nil {
		return message.Message{}, fmt.Errorf("oscore: exchange: %w", err)
	}
	defer c.conn.ReleaseMessage(raw)
	return c.unprotect(raw, ex)
}

func (c *Client) unprotect(raw *pool.Message, ex *Exchange) (message.Message, error) {
	resp, err := fromPool(raw)
	if err != nil {
		return message.Message{}, err
	}
	if !resp.Options.HasOption(OptionNumber) {
		return message.Message{}, &ServerError{Code: resp.Code, Diagnostic: string(resp.Payload)}
	}
	return c.sc.UnprotectResponse(resp, ex)
}

// Get sends a protected GET for path.
func (c *Client) Get(ctx context.Context, path string, opts ...message.Option) (*pool.Message, error) {
	req := pool.NewMessage(ctx)
	if err := req.SetupGet(path, nil, opts...); err != nil {
		return nil, fmt.Errorf("oscore: build GET: %w", err)
	}
	return c.Do(ctx, req)
}

// Post sends a protected POST for path.
func (c *Client) Post(ctx context.Context, path string, contentFormat message.MediaType, payload io.ReadSeeker, opts ...message.Option) (*pool.Message, error) {
	req := pool.NewMessage(ctx)
	if err := req.SetupPost(path, nil, contentFormat, payload, opts...); err != nil {
		return nil, fmt.Errorf("oscore: build POST: %w", err)
	}
	return c.Do(ctx, req)
}

// Observation is an OSCORE observation started by Client.Observe.
type Observation struct {
	c     *Client
	path  string
	token message.Token
	inner interface {
		Cancel(ctx context.Context, opts ...message.Option) error
		Canceled() bool
	}
	nf *notifier
}

// Canceled reports whether the observation has ended.
func (o *Observation) Canceled() bool { return o.inner.Canceled() }

// Cancel deregisters with a protected GET (Observe: 1) on the same token
// (RFC 7641 §3.6), then drops the local registration.
func (o *Observation) Cancel(ctx context.Context) error {
	req := pool.NewMessage(ctx)
	if err := req.SetupGet(o.path, o.token); err != nil {
		return fmt.Errorf("oscore: build deregistration: %w", err)
	}
	req.SetObserve(1)
	_, err := o.c.Do(ctx, req)
	o.nf.stop()
	cancelLocal(o.inner)
	return err
}

// cancelLocal drops go-coap's local observation state. go-coap's own Cancel
// would also send an unprotected deregistration; with an expired context that
// send is abandoned (and a server running Handler would refuse it anyway).
func cancelLocal(obs interface {
	Cancel(ctx context.Context, opts ...message.Option) error
}) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_ = obs.Cancel(done)
}

// Observe registers an observation of path (RFC 7641 through OSCORE,
// RFC 8613 §4.1.3.5). onNotify receives every verified notification in
// order; notifications whose Partial IV does not increase are dropped as
// replays. The first response is delivered too. A notification (or first
// response) that is the first inner block of a longer body is completed with
// Block2 requests before delivery (RFC 7959 §2.6); if a newer notification
// is delivered while it is being completed, it is dropped. onNotify is
// called from one goroutine at a time. A server that lost its replay
// window answers the registration with 4.01 + Echo; the registration is then
// repeated once with that Echo.
func (c *Client) Observe(ctx context.Context, path string, onNotify func(*pool.Message), opts ...message.Option) (*Observation, error) {
	obs, echo, err := c.observe(ctx, path, onNotify, opts)
	if err != nil || echo == nil {
		return obs, err
	}
	c.echoRetries.Add(1)
	obs, _, err = c.observe(ctx, path, onNotify, append(opts, message.Option{ID: message.Echo, Value: echo}))
	return obs, err
}

// notifier delivers an observation's notifications in arrival order (the
// replay check already made that Partial IV order). A notification that is
// the first block of a longer body (RFC 7959 §2.6) is completed with
// fetchRest in its own goroutine, because go-coap runs the observe callback
// on its receive path, which the fetch needs; it is delivered only if no
// newer notification was delivered meanwhile, so the application never goes
// back to an older state.
type notifier struct {
	c        *Client
	plain    message.Message // the registration, template of the continuations
	onNotify func(*pool.Message)
	ctx      context.Context // ends with the observation
	stop     context.CancelFunc

	mu        sync.Mutex
	arrived   uint64
	delivered uint64
}

func newNotifier(c *Client, plain message.Message, onNotify func(*pool.Message)) *notifier {
	ctx, stop := context.WithCancel(context.Background())
	return &notifier{c: c, plain: plain, onNotify: onNotify, ctx: ctx, stop: stop}
}

// handle delivers resp, completing it first when it is block-wise; done
// receives the outcome.
func (n *notifier) handle(resp message.Message, done func(error)) {
	n.mu.Lock()
	n.arrived++
	seq := n.arrived
	n.mu.Unlock()
	if _, ok, _ := blockOption(resp.Options, message.Block2); !ok {
		n.deliver(seq, resp)
		done(nil)
		return
	}
	go func() {
		whole, err := n.c.fetchRest(n.ctx, n.plain, resp)
		if err == nil {
			n.deliver(seq, whole)
		}
		done(err)
	}()
}

// deliver hands resp to the application unless a newer notification went
// first. The lock keeps deliveries sequential.
func (n *notifier) deliver(seq uint64, resp message.Message) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if seq < n.delivered {
		return
	}
	n.delivered = seq
	m := pool.NewMessage(n.ctx)
	m.SetMessage(resp)
	n.onNotify(m)
}

// observe registers once. When the first response is an Echo challenge it
// is not delivered; its Echo value is returned instead.
func (c *Client) observe(ctx context.Context, path string, onNotify func(*pool.Message), opts []message.Option) (*Observation, []byte, error) {
	token, err := message.GetToken()
	if err != nil {
		return nil, nil, fmt.Errorf("oscore: token: %w", err)
	}
	req := pool.NewMessage(ctx)
	if err := req.SetupGet(path, token, opts...); err != nil {
		return nil, nil, fmt.Errorf("oscore: build GET: %w", err)
	}
	req.SetObserve(0)
	plain, err := fromPool(req)
	if err != nil {
		return nil, nil, err
	}
	prot, ex, err := c.sc.ProtectRequest(plain)
	if err != nil {
		return nil, nil, err
	}
	outer := c.conn.AcquireMessage(ctx)
	defer c.conn.ReleaseMessage(outer)
	outer.SetToken(token)
	fillPool(outer, prot)
	// go-coap may return from DoObserve before the callback has run for the
	// first response, so the callback reports that response on firstResult.
	type result struct {
		echo []byte
		err  error
	}
	firstResult := make(chan result, 1)
	var first atomic.Bool
	nf := newNotifier(c, plain, onNotify)
	obs, err := c.conn.DoObserve(outer, func(n *pool.Message) {
		isFirst := first.CompareAndSwap(false, true)
		resp, err := c.unprotect(n, ex)
		if err != nil {
			if isFirst {
				firstResult <- result{err: err}
			}
			return // forged, replayed or reordered notification: drop
		}
		if !isFirst {
			nf.handle(resp, func(error) {}) // an incomplete notification is dropped; the next one counts
			return
		}
		if echo, _ := resp.Options.GetBytes(message.Echo); resp.Code == codes.Unauthorized && echo != nil {
			firstResult <- result{echo: echo}
			return
		}
		nf.handle(resp, func(err error) {
			if errors.Is(err, ErrBlockMixup) {
				// A notification replaced the stored first answer while its
				// blocks were being fetched: the registration stands, and that
				// newer notification is delivered instead.
				err = nil
			}
			firstResult <- result{err: err}
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("oscore: observe %s: %w", path, err)
	}
	select {
	case r := <-firstResult:
		if r.err != nil {
			nf.stop()
			cancelLocal(obs)
			return nil, nil, fmt.Errorf("oscore: observe %s: %w", path, r.err)
		}
		if r.echo != nil {
			nf.stop()
			cancelLocal(obs)
			return nil, r.echo, nil
		}
	case <-ctx.Done():
		nf.stop()
		cancelLocal(obs)
		return nil, nil, ctx.Err()
	}
	return &Observation{c: c, path: path, token: token, inner: obs, nf: nf}, nil, nil
}
