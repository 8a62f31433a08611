package coap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/plgd-dev/go-coap/v3/dtls"
	dtlsServer "github.com/plgd-dev/go-coap/v3/dtls/server"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/net/responsewriter"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/pkg/runner/periodic"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpServer "github.com/plgd-dev/go-coap/v3/udp/server"

	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// Request is what a handler sees: only authenticated, access-checked
// requests reach it.
type Request struct {
	Method        codes.Code
	Path          string
	Query         []string
	ContentFormat int // NoContentFormat when absent
	Payload       []byte
	// Sender is the authenticated identity: the signer or session peer,
	// or in plain mode the DTLS identity ("" without DTLS).
	Sender string
	// Observe is set on a GET that registers an observation; the handler
	// runs again for each Server.Notify of the path.
	Observe bool
}

// Response is a handler's answer, and what a client receives.
type Response struct {
	Code          codes.Code
	ContentFormat int // NoContentFormat when absent
	Payload       []byte
	// Sender is, on a client, the verified responder ("" in plain mode).
	Sender string
}

// HandlerFunc answers a request.
type HandlerFunc func(req *Request) Response

// Diagnostic payloads of unprotected errors (RFC 7252 §5.5.2): a client
// acts on two of them, and they carry nothing an attacker could not send.
const (
	diagUnknownSession = "pqc-iiot: unknown session"
	diagReplayFloor    = "pqc-iiot: replay floor="
)

// Server serves one mode over UDP or DTLS.
type Server struct {
	cfg      Config
	local    *session.Local
	ownLocal bool
	signed   *signedCodec
	guard    *replayGuard
	budget   session.Budget // signed mode: per-signer budget before verification
	mgr      *session.Manager
	table    *sessionTable
	osc      *oscoreServer

	mu       sync.RWMutex
	handlers map[string]HandlerFunc
	obs      *observers
	blocks   *transfers

	flight flight // requests being handled, for Close to drain

	closeMu  sync.Mutex
	closed   bool
	done     chan struct{} // closed by Close: stops go-coap's periodic runner
	stop     []func()
	addr     net.Addr
	serveErr chan error
}

// NewServer checks cfg and prepares the mode's state; ListenAndServe,
// Listen or Serve start it.
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(false); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, handlers: map[string]HandlerFunc{}, obs: newObservers(),
		blocks: newTransfers(cfg.MaxPayload+maxSignedOverhead, cfg.Timeout, cfg.Now), done: make(chan struct{})}
	if cfg.ACL != nil && cfg.ACL.Trust == nil {
		acl := *cfg.ACL
		acl.Trust = cfg.Trust
		s.cfg.ACL = &acl
	}
	if cfg.Mode == ModePlain {
		return s, nil
	}
	var err error
	if s.local, s.ownLocal, err = cfg.local(); err != nil {
		return nil, err
	}
	switch cfg.Mode {
	case ModeSigned:
		s.guard = newReplayGuard(cfg.Store)
		if p := cfg.Trust.Policy(); p != nil && p.PeerBudget.Rate > 0 {
			s.budget = session.NewTokenBucket(p.PeerBudget, cfg.Now)
		}
		s.signed, err = newSignedCodec(s.local, session.TrustPeers{Trust: cfg.Trust}, &seqSource{st: cfg.Store}, cfg.Now, cfg.MaxPayload)
	case ModeSession, ModeOSCORE:
		s.mgr = session.NewManager(session.Config{Local: s.local, Trust: cfg.Trust, Store: cfg.Store, Volatile: cfg.Volatile, Now: cfg.Now})
		s.table = newSessionTable(cfg.MaxSessions, cfg.SessionIdle, cfg.Now, func(id [session.SessionIDSize]byte) bool {
			_, ok := s.mgr.Session(id)
			return ok
		})
		if cfg.Mode == ModeOSCORE {
			s.osc, err = newOSCOREServer(s)
		}
	}
	if err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// Handle registers h for an exact path ("/sensors/t1").
func (s *Server) Handle(path string, h HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[cleanPath(path)] = h
}

func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return p
}

func (s *Server) handler(path string) (HandlerFunc, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.handlers[path]
	return h, ok
}

// Sessions reports how many sessions the server holds (session and
// OSCORE modes).
func (s *Server) Sessions() int {
	if s.table == nil {
		return 0
	}
	return s.table.len()
}

// ListenAndServe listens on addr ("host:port") and serves until Close.
func (s *Server) ListenAndServe(addr string) error {
	if _, err := s.Listen(addr); err != nil {
		return err
	}
	return <-s.serveErr
}

// Listen binds addr and serves in the background; it returns the bound
// address (port 0 picks a free one).
func (s *Server) Listen(addr string) (net.Addr, error) {
	if s.cfg.DTLS != nil {
		return s.listenDTLS(addr)
	}
	l, err := coapnet.NewListenUDP("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("coap: listen %s: %w", addr, err)
	}
	return s.serveUDP(l)
}

// Serve serves on an already bound UDP socket until Close.
func (s *Server) Serve(conn *net.UDPConn) error {
	if _, err := s.serveUDP(coapnet.NewUDPConn("udp", conn)); err != nil {
		return err
	}
	return <-s.serveErr
}

func (s *Server) transmission() []udpServer.Option {
	o := []udpServer.Option{options.WithPeriodicRunner(periodic.New(s.done, s.cfg.tick())), options.WithErrors(s.cfg.Errors),
		options.WithProcessReceivedMessageFunc(s.dispatcher())}
	if s.cfg.Mode == ModeOSCORE {
		o = append(o, options.WithMTU(oscoreMTU))
	}
	if nstart, ack, retransmit, ok := s.cfg.transmission(); ok {
		o = append(o, options.WithTransmission(nstart, ack, retransmit))
	}
	return o
}

func (s *Server) serveUDP(l *coapnet.UDPConn) (net.Addr, error) {
	opts := append([]udpServer.Option{options.WithMux(mux.HandlerFunc(s.serveCoAP)),
		options.WithMaxMessageSize(uint32(s.cfg.MaxPayload + maxSignedOverhead + 1024)),
		options.WithBlockwise(false, blockwise.SZX1024, s.cfg.Timeout)}, s.transmission()...)
	srv := udp.NewServer(opts...)
	return s.start(l.LocalAddr(), func() error { return srv.Serve(l) }, func() { srv.Stop(); _ = l.Close() })
}

func (s *Server) listenDTLS(addr string) (net.Addr, error) {
	pc, err := s.cfg.DTLS.pion(true, s.cfg.Errors)
	if err != nil {
		return nil, err
	}
	l, err := coapnet.NewDTLSListener("udp", addr, pc)
	if err != nil {
		return nil, fmt.Errorf("coap: listen dtls %s: %w", addr, err)
	}
	opts := []dtlsServer.Option{options.WithMux(mux.HandlerFunc(s.serveCoAP)),
		options.WithMaxMessageSize(uint32(s.cfg.MaxPayload + maxSignedOverhead + 1024)),
		options.WithBlockwise(false, blockwise.SZX1024, s.cfg.Timeout),
		// A handshake that cannot finish (a client with the wrong PSK gets
		// no alert, its Finished is dropped) would otherwise hold a
		// goroutine until the server stops.
		options.WithDTLSHandshakeTimeout(s.cfg.Timeout)}
	if nstart, ack, retransmit, ok := s.cfg.transmission(); ok {
		opts = append(opts, options.WithTransmission(nstart, ack, retransmit))
	}
	if s.cfg.Mode == ModeOSCORE {
		opts = append(opts, options.WithMTU(oscoreMTU))
	}
	opts = append(opts, options.WithPeriodicRunner(periodic.New(s.done, s.cfg.tick())), options.WithErrors(s.cfg.Errors),
		options.WithProcessReceivedMessageFunc(s.dispatcher()))
	srv := dtls.NewServer(opts...)
	return s.start(l.Addr(), func() error { return srv.Serve(l) }, func() { srv.Stop(); _ = l.Close() })
}

func (s *Server) start(addr net.Addr, serve func() error, stop func()) (net.Addr, error) {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		stop()
		return nil, ErrClosed
	}
	s.addr, s.serveErr = addr, make(chan error, 1)
	s.stop = append(s.stop, stop)
	go func() { s.serveErr <- serve() }()
	return addr, nil
}

// Addr is the bound address once Listen or Serve ran.
func (s *Server) Addr() net.Addr {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return s.addr
}

// Close stops serving and wipes sessions and keys. Requests already being
// handled finish first and their answers are written (for at most
// Config.DrainTimeout); requests arriving meanwhile get an unprotected
// 5.03. With a Store, replay marks and sequence reservations persist for
// the next server.
func (s *Server) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	s.flight.drain(s.cfg.DrainTimeout)
	s.closeMu.Lock()
	stops := s.stop
	close(s.done)
	s.closeMu.Unlock()
	for _, f := range stops {
		f()
	}
	s.release()
	return nil
}

func (s *Server) release() {
	if s.table != nil {
		s.table.closeAll()
	}
	if s.mgr != nil {
		s.mgr.Close()
	}
	if s.ownLocal {
		s.local.Wipe()
	}
}

// inbound is an authenticated request and the way to protect its answers.
type inbound struct {
	sender  string
	cf      int
	payload []byte
	reply   replier
}

// replier protects a response (or notification) with meta m.
type replier func(m *meta, cf int, payload []byte) (outCF int, out []byte, err error)

// serveCoAP is the one go-coap handler: authenticate, check access, run
// the handler, protect the answer.
func (s *Server) serveCoAP(w mux.ResponseWriter, r *mux.Message) {
	// Continuations of a stored answer are part of a request already
	// admitted: they are served while Close drains.
	num, _, cont, _ := blockOf(r.Message, message.Block2)
	if !s.flight.enter(cont && num > 0) {
		writeDiag(w, codes.ServiceUnavailable, "")
		return
	}
	// In flight until go-coap has written the answer, which it does after
	// this returns; without its post-write hook, until this returns.
	if !responsewriter.AfterWrite(r.Context(), s.flight.leaver()) {
		defer s.flight.leave()
	}
	md, err := metaOf(r.Message)
	if err != nil {
		writeDiag(w, codes.BadRequest, err.Error())
		return
	}
	if (md.code == codes.GET || md.code == codes.FETCH) && md.observe == 1 && s.obs.remove(w.Conn(), md.token) {
		writeDiag(w, codes.Content, "")
		return
	}
	body, err := readBody(r.Body(), s.cfg.MaxPayload+maxSignedOverhead)
	if err != nil {
		writeDiag(w, codes.RequestEntityTooLarge, err.Error())
		return
	}
	if num, _, ok, _ := blockOf(r.Message, message.Block2); ok && num > 0 {
		s.serveBlock2(w, r, num)
		return
	}
	if s.osc != nil && md.path != HandshakePath {
		s.osc.serve(w, r) // OSCORE carries its own (inner) block-wise transfers
		return
	}
	body, b1, ok := s.receiveBlock1(w, r, body)
	if !ok {
		return
	}
	cf := NoContentFormat
	if v, err := r.ContentFormat(); err == nil {
		cf = int(v)
	}
	if md.path == HandshakePath && s.mgr != nil {
		s.handshake(w, md.code, body, b1)
		return
	}
	in, err := s.open(w.Conn(), &md, cf, body)
	if err != nil {
		s.refuse(w, err, in)
		return
	}
	resp, obs := s.dispatch(&md, in)
	s.respond(w, w.Conn(), &md, in, resp, obs, b1, true)
}

// dispatch runs access control and the handler for an authenticated request.
func (s *Server) dispatch(md *meta, in *inbound) (Response, bool) {
	if !s.cfg.ACL.Allows(in.sender, md.code, md.path) {
		return Response{Code: codes.Forbidden, ContentFormat: NoContentFormat}, false
	}
	h, ok := s.handler(md.path)
	if !ok {
		return Response{Code: codes.NotFound, ContentFormat: NoContentFormat}, false
	}
	req := &Request{Method: md.code, Path: md.path, Query: md.query, ContentFormat: in.cf,
		Payload: in.payload, Sender: in.sender, Observe: md.code == codes.GET && md.observe == 0}
	resp := h(req)
	if resp.Code == 0 {
		resp.Code = codes.Content
	}
	return resp, req.Observe && resp.Code == codes.Content
}

// respond protects and writes a handler's response; an accepted
// observation is registered first so no notification is missed.
func (s *Server) respond(w mux.ResponseWriter, owner any, md *meta, in *inbound, resp Response, observe bool, extra []message.Option, split bool) {
	rm := meta{code: resp.Code, token: md.token, observe: -1}
	if observe {
		if o, ok := s.obs.add(owner, w.Conn(), md, in); ok {
			rm.observe = int64(o)
			extra = append(extra, message.Option{ID: message.Observe, Value: encodeUint(o)})
		}
	}
	ocf, out, err := in.reply(md.forResponse(&rm), resp.ContentFormat, resp.Payload)
	if err != nil {
		writeDiag(w, codes.InternalServerError, "pqc-iiot: cannot protect response")
		return
	}
	if split {
		s.writeBody(w, resp.Code, ocf, out, extra...)
		return
	}
	var body io.ReadSeeker
	if out != nil || ocf != NoContentFormat {
		body = bytes.NewReader(out)
	}
	_ = w.SetResponse(resp.Code, message.MediaType(max(ocf, 0)), body, extra...)
}

// refuse answers a request that failed authentication: unprotected, with a
// diagnostic the client may act on.
func (s *Server) refuse(w mux.ResponseWriter, err error, in *inbound) {
	switch {
	case errors.Is(err, errUnknownSessn):
		writeDiag(w, codes.Unauthorized, diagUnknownSession)
	case errors.Is(err, ErrReplay) && in != nil:
		writeDiag(w, codes.Unauthorized, diagReplayFloor+strconv.FormatUint(s.guard.floor(in.sender), 10))
	case errors.Is(err, ErrTooLarge):
		writeDiag(w, codes.RequestEntityTooLarge, "")
	case errors.Is(err, ErrMalformed):
		writeDiag(w, codes.BadRequest, "")
	case errors.Is(err, session.ErrRateLimited):
		writeDiag(w, codes.ServiceUnavailable, "")
	default:
		writeDiag(w, codes.Unauthorized, "")
	}
}

func writeDiag(w mux.ResponseWriter, code codes.Code, diag string) {
	var body io.ReadSeeker
	if diag != "" {
		body = bytes.NewReader([]byte(diag))
	}
	_ = w.SetResponse(code, message.TextPlain, body)
}

func readBody(r io.ReadSeeker, limit int) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}

func encodeUint(v uint32) []byte {
	switch {
	case v == 0:
		return nil
	case v < 1<<8:
		return []byte{byte(v)}
	case v < 1<<16:
		return []byte{byte(v >> 8), byte(v)}
	}
	return []byte{byte(v >> 16), byte(v >> 8), byte(v)}
}

// open authenticates a request in the server's mode.
func (s *Server) open(conn mux.Conn, md *meta, cf int, body []byte) (*inbound, error) {
	switch s.cfg.Mode {
	case ModePlain:
		return &inbound{sender: dtlsIdentity(conn.NetConn()), cf: cf, payload: body, reply: plainReply}, nil
	case ModeSigned:
		return s.openSigned(md, cf, body)
	case ModeSession:
		if cf != int(message.AppOctets) {
			return nil, fmt.Errorf("%w: content format %d, want %d", ErrMalformed, cf, message.AppOctets)
		}
		return s.openSession(md, body)
	}
	return nil, fmt.Errorf("%w: %v", ErrUnsupported, s.cfg.Mode)
}

func plainReply(_ *meta, cf int, payload []byte) (int, []byte, error) { return cf, payload, nil }

func (s *Server) openSigned(md *meta, cf int, body []byte) (*inbound, error) {
	if cf != cfCOSESign1 {
		return nil, fmt.Errorf("%w: content format %d, want %d", ErrMalformed, cf, cfCOSESign1)
	}
	var in *inbound
	sm, err := s.signed.open(body, roleRequest, md, nil, func(sm *signedMsg) error {
		in = &inbound{sender: sm.sender}
		// Cheap checks before the signature: a known signer (so the
		// budget's buckets are bounded by the fleet), its budget, replay.
		if _, known := s.cfg.Trust.Peer(sm.sender); !known {
			return fmt.Errorf("%w: unknown signer %s", ErrAuth, sm.sender)
		}
		if s.budget != nil && !s.budget.Allow(sm.sender) {
			return fmt.Errorf("%w: %s", session.ErrRateLimited, sm.sender)
		}
		return s.guard.check(sm.sender, sm.seq)
	})
	if err != nil {
		return in, err
	}
	if err := s.guard.accept(sm.sender, sm.seq); err != nil {
		return in, err
	}
	d := digest(body)
	return &inbound{sender: sm.sender, cf: sm.cf, payload: sm.msg.Payload, reply: func(m *meta, cf int, p []byte) (int, []byte, error) {
		out, err := s.signed.seal(roleResponse, m, cf, d, p)
		return cfCOSESign1, out, err
	}}, nil
}

func (s *Server) openSession(md *meta, body []byte) (*inbound, error) {
	id, ok := session.FrameSessionID(body)
	if !ok {
		return nil, fmt.Errorf("%w: not a session frame", ErrMalformed)
	}
	sess, ok := s.table.get(id)
	if !ok {
		return nil, errUnknownSessn
	}
	pt, err := sess.UnprotectBound(body, outerBinding(roleRequest, md, nil))
	if err != nil {
		if errors.Is(err, session.ErrClosed) {
			return nil, errUnknownSessn
		}
		return nil, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	cf, payload, err := openEnvelope(pt, roleRequest, md, nil)
	if err != nil {
		return nil, err
	}
	d := digest(body)
	return &inbound{sender: sess.Peer(), cf: cf, payload: payload, reply: func(m *meta, cf int, p []byte) (int, []byte, error) {
		out, err := sealEnvelope(sess, roleResponse, m, cf, d, p)
		return int(message.AppOctets), out, err
	}}, nil
}

// handshake answers a session Init with the Response frame.
func (s *Server) handshake(w mux.ResponseWriter, code codes.Code, body []byte, b1 []message.Option) {
	if code != codes.POST {
		writeDiag(w, codes.MethodNotAllowed, "")
		return
	}
	reply, sess, err := s.mgr.HandleHandshake(body)
	if err != nil || sess == nil {
		s.refuse(w, fmt.Errorf("%w: handshake: %w", ErrAuth, err), nil)
		return
	}
	want := ctxSession
	if s.cfg.Mode == ModeOSCORE {
		want = ctxOSCORE
	}
	if sess.Context() != want {
		sess.Close()
		writeDiag(w, codes.Unauthorized, "pqc-iiot: handshake for another use")
		return
	}
	s.table.add(sess)
	if s.osc != nil {
		if err := s.osc.add(sess); err != nil {
			writeDiag(w, codes.InternalServerError, "")
			return
		}
	}
	s.writeBody(w, codes.Changed, int(message.AppOctets), reply, b1...)
}
