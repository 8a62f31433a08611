package oscore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
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

// Handler protects a go-coap mux handler with OSCORE (server side, RFC 8613
// §8.2-8.3). Every request must carry the OSCORE option; its kid selects the
// context through resolve. The handler verifies, decrypts and replay-checks the
// request, runs next with the inner request, and protects whatever next
// answers. Failures are answered unprotected as §8.2 prescribes: 4.02 for a
// malformed option, 4.01 for an unknown context or a replay, 4.00 when
// decryption fails. After a reboot (context created without
// FreshReplayWindow) the first request is answered with a protected 4.01 and
// an Echo option; the client's retry with that Echo is accepted.
//
// Observe: next may send notifications with w.Conn().WriteMessage using the
// request's token; they are protected with fresh Partial IVs. Writing any other
// message through that connection fails, so nothing leaves unprotected.
func Handler(resolve Resolver, next mux.Handler) mux.Handler {
	asm := newAssembler()
	return mux.HandlerFunc(func(w mux.ResponseWriter, r *mux.Message) {
		req, err := fromPool(r.Message)
		if err != nil {
			answerError(w, codes.BadRequest, "Malformed request")
			return
		}
		ov, err := oscoreOption(req.Options)
		if errors.Is(err, ErrNotProtected) {
			answerError(w, codes.Unauthorized, "OSCORE required")
			return
		}
		if err != nil || ov.KID == nil || ov.PartialIV == nil {
			answerError(w, codes.BadOption, "Failed to decode COSE")
			return
		}
		sc, err := resolve(ov.KID, ov.KIDContext)
		if err != nil || sc == nil {
			answerError(w, codes.Unauthorized, "Security context not found")
			return
		}
		inner, ex, err := sc.UnprotectRequest(req)
		if errors.Is(err, ErrEchoRequired) {
			answerEcho(w, sc, inner, ex)
			return
		}
		if err != nil {
			code, diag, _ := ErrorResponseCode(err)
			answerError(w, code, diag)
			return
		}
		serveInner(w, r, sc, inner, ex, next, asm)
	})
}

func serveInner(w mux.ResponseWriter, r *mux.Message, sc *Context, inner message.Message, ex *Exchange, next mux.Handler, asm *assembler) {
	inner, finalBlock1, early := reassemble(sc, inner, asm)
	if early != nil {
		answerProtected(w, sc, ex, *early)
		return
	}
	b2, hasB2, err := blockOption(inner.Options, message.Block2)
	if err != nil {
		answerProtected(w, sc, ex, message.Message{Code: codes.BadOption})
		return
	}
	inner.Options = inner.Options.Remove(message.Block2)
	innerReq := pool.NewMessage(r.Context())
	innerReq.SetMessage(inner)
	iw := &innerWriter{
		resp: pool.NewMessage(r.Context()),
		conn: &notifyConn{Conn: w.Conn(), sc: sc, ex: ex, token: append(message.Token(nil), inner.Token...)},
	}
	iw.resp.SetToken(inner.Token)
	next.ServeCOAP(iw, &mux.Message{Message: innerReq, RouteParams: r.RouteParams})
	if iw.resp.Code() == codes.Empty {
		return // next sent nothing: leave the transport's default (empty ACK)
	}
	resp, err := fromPool(iw.resp)
	if err != nil {
		answerError(w, codes.InternalServerError, "")
		return
	}
	if hasB2 {
		if resp, err = sliceBody(resp, b2); err != nil {
			answerProtected(w, sc, ex, message.Message{Code: codes.BadOption})
			return
		}
	}
	if finalBlock1 != nil {
		resp.Options = setOption(resp.Options, finalBlock1.option(message.Block1))
	}
	answerProtected(w, sc, ex, resp)
}

// reassemble handles an inner Block1 request: it returns the complete request
// once the last block arrived (with the Block1 value to confirm), or the
// response to send now (2.31 Continue, or an error).
func reassemble(sc *Context, inner message.Message, asm *assembler) (message.Message, *block, *message.Message) {
	b1, ok, err := blockOption(inner.Options, message.Block1)
	if err != nil {
		return inner, nil, &message.Message{Code: codes.BadOption}
	}
	if !ok {
		return inner, nil, nil
	}
	body, done, fail := asm.add(transferKey(sc, inner), b1, inner.Payload)
	switch {
	case fail != 0:
		return inner, nil, &message.Message{Code: fail}
	case !done:
		return inner, nil, &message.Message{Code: codes.Continue, Options: message.Options{b1.option(message.Block1)}}
	}
	inner.Payload = body
	inner.Options = inner.Options.Remove(message.Block1)
	return inner, &block{num: b1.num, szx: b1.szx}, nil
}

// answerProtected protects resp for ex and makes it the transport's response.
func answerProtected(w mux.ResponseWriter, sc *Context, ex *Exchange, resp message.Message) {
	prot, err := sc.ProtectResponse(resp, ex, false)
	if err != nil {
		// Typically the sequence store failed: fail closed, send nothing protected.
		answerError(w, codes.InternalServerError, "")
		return
	}
	fillPool(w.Message(), prot)
}

func answerEcho(w mux.ResponseWriter, sc *Context, inner message.Message, ex *Exchange) {
	prot, err := sc.ProtectEchoChallenge(inner, ex)
	if err != nil {
		answerError(w, codes.InternalServerError, "")
		return
	}
	fillPool(w.Message(), prot)
}

// answerError sends an unprotected error with a diagnostic payload and an
// outer Max-Age of 0 so that intermediaries do not cache it (§8.2).
func answerError(w mux.ResponseWriter, code codes.Code, diagnostic string) {
	m := w.Message()
	m.SetCode(code)
	m.ResetOptionsTo(nil)
	m.SetOptionUint32(message.MaxAge, 0)
	if diagnostic != "" {
		m.SetContentFormat(message.TextPlain)
		m.SetBody(bytes.NewReader([]byte(diagnostic)))
	} else {
		m.SetBody(nil)
	}
}

// innerWriter is the ResponseWriter next sees: it collects the plain response.
type innerWriter struct {
	resp *pool.Message
	conn *notifyConn
}

func (w *innerWriter) SetResponse(code codes.Code, cf message.MediaType, d io.ReadSeeker, opts ...message.Option) error {
	w.resp.SetCode(code)
	w.resp.ResetOptionsTo(opts)
	if d != nil {
		w.resp.SetContentFormat(cf)
		w.resp.SetBody(d)
	}
	return nil
}
func (w *innerWriter) Conn() mux.Conn             { return w.conn }
func (w *innerWriter) SetMessage(m *pool.Message) { w.resp = m }
func (w *innerWriter) Message() *pool.Message     { return w.resp }

// notifyConn protects notifications that next writes for its observation.
type notifyConn struct {
	mux.Conn
	sc    *Context
	ex    *Exchange
	token message.Token
}

func (c *notifyConn) WriteMessage(m *pool.Message) error {
	if !bytes.Equal(m.Token(), c.token) || !c.ex.Observe() {
		return ErrNotNotification
	}
	plain, err := fromPool(m)
	if err != nil {
		return err
	}
	prot, err := c.sc.ProtectResponse(plain, c.ex, true)
	if err != nil {
		return err
	}
	out := c.Conn.AcquireMessage(m.Context())
	defer c.Conn.ReleaseMessage(out)
	out.SetToken(m.Token())
	out.SetType(m.Type())
	fillPool(out, prot)
	return c.Conn.WriteMessage(out)
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
// Block1 transfers of 512-byte blocks, and an inner Block2 response is fetched
// block by block and returned whole (RFC 8613 §4.1.3.4.1). An unprotected
// error response becomes a *ServerError.
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
	resp, err := c.send(ctx, plain)
	if err != nil {
		return nil, err
	}
	if resp, err = c.fetchRest(ctx, plain, resp); err != nil {
		return nil, err
	}
	out := pool.NewMessage(ctx)
	out.SetMessage(resp)
	return out, nil
}

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

// send transmits plain, as inner Block1 blocks when its body is large.
func (c *Client) send(ctx context.Context, plain message.Message) (message.Message, error) {
	const blockSize = 1 << (innerBlockSZX + 4)
	if len(plain.Payload) <= 2*blockSize || plain.Options.HasOption(message.Block1) {
		return c.exchange(ctx, plain)
	}
	if len(plain.Payload) > MaxInnerBody {
		return message.Message{}, fmt.Errorf("%w: %d bytes", ErrBodyTooLarge, len(plain.Payload))
	}
	for num := uint32(0); ; num++ {
		start := int(num) * blockSize
		end := min(start+blockSize, len(plain.Payload))
		b := block{num: num, more: end < len(plain.Payload), szx: innerBlockSZX}
		part := plain
		part.Payload = plain.Payload[start:end]
		part.Options = setOption(plain.Options, b.option(message.Block1))
		resp, err := c.exchange(ctx, part)
		if err != nil {
			return message.Message{}, fmt.Errorf("oscore: Block1 %d: %w", num, err)
		}
		if !b.more || resp.Code != codes.Continue {
			// Last block answered, or the server stopped the transfer early.
			resp.Options = resp.Options.Remove(message.Block1)
			return resp, nil
		}
		if ack, ok, _ := blockOption(resp.Options, message.Block1); ok && ack.szx < innerBlockSZX {
			return message.Message{}, fmt.Errorf("oscore: server asks for %d-byte blocks: %w", ack.size(), errors.ErrUnsupported)
		}
	}
}

// fetchRest completes an inner Block2 response by requesting the next blocks.
func (c *Client) fetchRest(ctx context.Context, plain, resp message.Message) (message.Message, error) {
	b, ok, err := blockOption(resp.Options, message.Block2)
	if err != nil {
		return message.Message{}, err
	}
	if !ok {
		return resp, nil
	}
	body := append([]byte{}, resp.Payload...)
	follow := plain
	follow.Payload = nil
	follow.Options = plain.Options.Remove(message.Block1)
	for b.more {
		req := follow
		req.Options = setOption(follow.Options, block{num: b.num + 1, szx: b.szx}.option(message.Block2))
		r, err := c.exchange(ctx, req)
		if err != nil {
			return message.Message{}, fmt.Errorf("oscore: Block2 %d: %w", b.num+1, err)
		}
		nb, ok, err := blockOption(r.Options, message.Block2)
		if err != nil || !ok || nb.num != b.num+1 || nb.szx != b.szx || r.Code != resp.Code {
			return message.Message{}, fmt.Errorf("%w: unexpected Block2 answer %v", ErrMalformedInner, r.Code)
		}
		if len(body)+len(r.Payload) > MaxInnerBody {
			return message.Message{}, ErrBodyTooLarge
		}
		body = append(body, r.Payload...)
		b = nb
	}
	resp.Payload = body
	resp.Options = resp.Options.Remove(message.Block2)
	return resp, nil
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
// replays. The first response is delivered too. A server that lost its replay
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
	obs, err := c.conn.DoObserve(outer, func(n *pool.Message) {
		isFirst := first.CompareAndSwap(false, true)
		resp, err := c.unprotect(n, ex)
		if err != nil {
			if isFirst {
				firstResult <- result{err: err}
			}
			return // forged, replayed or reordered notification: drop
		}
		if isFirst {
			echo, _ := resp.Options.GetBytes(message.Echo)
			if resp.Code == codes.Unauthorized && echo != nil {
				firstResult <- result{echo: echo}
				return
			}
			firstResult <- result{}
		}
		m := pool.NewMessage(ctx)
		m.SetMessage(resp)
		onNotify(m)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("oscore: observe %s: %w", path, err)
	}
	select {
	case r := <-firstResult:
		if r.err != nil {
			cancelLocal(obs)
			return nil, nil, fmt.Errorf("oscore: observe %s: %w", path, r.err)
		}
		if r.echo != nil {
			cancelLocal(obs)
			return nil, r.echo, nil
		}
	case <-ctx.Done():
		cancelLocal(obs)
		return nil, nil, ctx.Err()
	}
	return &Observation{c: c, path: path, token: token, inner: obs}, nil, nil
}
