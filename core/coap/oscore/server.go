package oscore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
)

// HandlerOption configures Handler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	blockSZX uint32
	now      func() time.Time
}

// WithBlockSize sets the largest inner block the server sends and asks for,
// in bytes: the largest power of two from 16 to 1024 not above size (default
// 512). Responses longer than two blocks are sent block-wise; a client
// sending larger Block1 blocks is asked for this size (RFC 7959 §2.5).
func WithBlockSize(size int) HandlerOption {
	return func(c *handlerConfig) { c.blockSZX = szxFor(size) }
}

// withClock replaces the cache's clock (tests of expiry).
func withClock(now func() time.Time) HandlerOption {
	return func(c *handlerConfig) { c.now = now }
}

// server is the state of one Handler: Block1 bodies being received and
// whole responses whose Block2 blocks are being fetched.
type server struct {
	resolve Resolver
	next    mux.Handler
	cfg     handlerConfig
	asm     *assembler
	cache   *responseCache
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
// Block-wise (inner, RFC 7959 + RFC 9175 Request-Tag): Block1 request bodies
// are reassembled before next runs. next runs exactly once per request: an
// answer longer than two blocks (or than the block the client asked for) is
// kept and served block by block, each block its own protected response;
// Block2 continuations (num > 0) never reach next. A continuation with no
// stored answer (another context, another Request-Tag, expired) gets 4.08.
//
// Observe: next may send notifications with w.Conn().WriteMessage using the
// request's token; they are protected with fresh Partial IVs, and a long one
// is sent as its first block, the rest served to the client's continuations
// (RFC 7959 §2.6). Writing any other message through that connection fails,
// so nothing leaves unprotected.
func Handler(resolve Resolver, next mux.Handler, opts ...HandlerOption) mux.Handler {
	cfg := handlerConfig{blockSZX: defaultBlockSZX, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	s := &server{resolve: resolve, next: next, cfg: cfg, asm: newAssembler(), cache: newResponseCache(cfg.now)}
	return mux.HandlerFunc(s.serve)
}

func (s *server) serve(w mux.ResponseWriter, r *mux.Message) {
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
	sc, err := s.resolve(ov.KID, ov.KIDContext)
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
	s.serveInner(w, r, sc, inner, ex)
}

// unsplit is the longest body sent without Block2 when the client did not
// ask for blocks.
func (s *server) unsplit() int { return 2 << (s.cfg.blockSZX + 4) }

func (s *server) serveInner(w mux.ResponseWriter, r *mux.Message, sc *Context, inner message.Message, ex *Exchange) {
	inner, finalBlock1, early := s.reassemble(sc, inner)
	if early != nil {
		answerProtected(w, sc, ex, *early)
		return
	}
	b2, hasB2, err := blockOption(inner.Options, message.Block2)
	if err != nil {
		answerProtected(w, sc, ex, message.Message{Code: codes.BadOption})
		return
	}
	inner.Options = without(inner.Options, message.Block2)
	key := requestKey(sc, inner)
	if hasB2 && b2.num > 0 {
		answerProtected(w, sc, ex, s.continuation(key, b2))
		return
	}
	resp, ok := s.run(w, r, sc, ex, inner, key)
	if !ok {
		return
	}
	resp = s.firstBlock(key, resp, b2, hasB2)
	if finalBlock1 != nil {
		resp.Options = setOption(resp.Options, finalBlock1.option(message.Block1))
	}
	answerProtected(w, sc, ex, resp)
}

// run calls next once with the inner request and returns its answer; false
// when next answered nothing (the transport's empty ACK stands) or the
// answer could not be read (an error was sent).
func (s *server) run(w mux.ResponseWriter, r *mux.Message, sc *Context, ex *Exchange, inner message.Message, key string) (message.Message, bool) {
	innerReq := pool.NewMessage(r.Context())
	innerReq.SetMessage(inner)
	iw := &innerWriter{
		resp: pool.NewMessage(r.Context()),
		conn: &notifyConn{Conn: w.Conn(), sc: sc, ex: ex, token: append(message.Token(nil), inner.Token...), srv: s, key: key},
	}
	iw.resp.SetToken(inner.Token)
	s.next.ServeCOAP(iw, &mux.Message{Message: innerReq, RouteParams: r.RouteParams})
	if iw.resp.Code() == codes.Empty {
		return message.Message{}, false
	}
	resp, err := fromPool(iw.resp)
	if err != nil {
		answerError(w, codes.InternalServerError, "")
		return message.Message{}, false
	}
	return resp, true
}

// firstBlock returns what to send of a fresh answer: the whole of it, or
// its first block, the whole kept for the continuations.
func (s *server) firstBlock(key string, resp message.Message, asked block, hasB2 bool) message.Message {
	szx := s.cfg.blockSZX
	if hasB2 {
		szx = min(szx, asked.szx)
	}
	if len(resp.Payload) <= s.unsplit() && (!hasB2 || len(resp.Payload) <= 1<<(szx+4)) {
		return resp
	}
	if len(resp.Payload) > MaxInnerBody {
		return message.Message{Code: codes.InternalServerError}
	}
	if !resp.Options.HasOption(message.ETag) {
		resp.Options = setOption(resp.Options, message.Option{ID: message.ETag, Value: transferETag()})
	}
	stored := resp
	stored.Options = without(resp.Options, message.Observe) // continuations are plain GETs
	s.cache.put(key, stored)
	first, _ := sliceBody(resp, block{num: 0, szx: szx}) // block 0 of a non-empty body always exists
	return first
}

// transferETag labels one stored answer (RFC 7959 §2.4): when a newer
// request for the same target replaces it while a client is still fetching
// the older one, the ETag changes and that client refuses the mixed body.
// An answer that carries the handler's own ETag keeps it.
func transferETag() []byte {
	tag := make([]byte, 8)
	_, _ = rand.Read(tag) // never fails (crypto/rand crashes the program instead)
	return tag
}

// continuation serves Block2 block b of the stored answer for key. The
// entry is dropped once its last block went out; a lost last answer is
// repeated by the transport's deduplication, not from here.
func (s *server) continuation(key string, b block) message.Message {
	resp, ok := s.cache.get(key)
	if !ok {
		return message.Message{Code: codes.RequestEntityIncomplete}
	}
	if b.szx > s.cfg.blockSZX {
		// Serve the asked offset in the server's smaller size (RFC 7959 §2.4).
		b = blockAt(b.offset(), s.cfg.blockSZX, false)
	}
	out, err := sliceBody(resp, b)
	if err != nil {
		return message.Message{Code: codes.BadOption}
	}
	if last, _, _ := blockOption(out.Options, message.Block2); !last.more {
		s.cache.drop(key)
	}
	return out
}

// reassemble handles an inner Block1 request: it returns the complete request
// once the last block arrived (with the Block1 value to confirm), or the
// response to send now (2.31 Continue, or an error).
func (s *server) reassemble(sc *Context, inner message.Message) (message.Message, *block, *message.Message) {
	b1, ok, err := blockOption(inner.Options, message.Block1)
	if err != nil {
		return inner, nil, &message.Message{Code: codes.BadOption}
	}
	if !ok {
		return inner, nil, nil
	}
	body, done, fail := s.asm.add(requestKey(sc, inner), b1, inner.Payload)
	switch {
	case fail != 0:
		return inner, nil, &message.Message{Code: fail}
	case !done:
		return inner, nil, &message.Message{Code: codes.Continue, Options: message.Options{s.continueAck(b1).option(message.Block1)}}
	}
	inner.Payload = body
	inner.Options = without(inner.Options, message.Block1)
	return inner, &block{num: b1.num, szx: b1.szx}, nil
}

// continueAck acknowledges Block1 block b; when b is larger than the
// server's block size, the ack carries the smaller size and the block
// number that size gives the same offset (RFC 7959 §2.5, Figure 4).
func (s *server) continueAck(b block) block {
	if b.szx <= s.cfg.blockSZX {
		return b
	}
	return blockAt(b.offset(), s.cfg.blockSZX, true)
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
	srv   *server
	key   string // transfer key of the registration, for Block2 continuations
}

func (c *notifyConn) WriteMessage(m *pool.Message) error {
	if !bytes.Equal(m.Token(), c.token) || !c.ex.Observe() {
		return ErrNotNotification
	}
	plain, err := fromPool(m)
	if err != nil {
		return err
	}
	if len(plain.Payload) > MaxInnerBody {
		return fmt.Errorf("%w: notification of %d bytes", ErrBodyTooLarge, len(plain.Payload))
	}
	plain = c.srv.firstBlock(c.key, plain, block{}, false)
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
