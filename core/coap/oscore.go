package coap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/pqc-iiot/pqc-iiot/core/coap/oscore"
	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// OSCORE keying profile (docs/coap.md, "OSCORE mode"): after a pqc-iiot
// session handshake in context ctxOSCORE, both ends derive with
// Session.Export, using the 16-byte session id as the exporter context:
//
//	Master Secret = Export("OSCORE Master Secret", sid, 16)
//	Master Salt   = Export("OSCORE Master Salt", sid, 8)
//	IDs           = Export("OSCORE Sender IDs", sid, 12)
//	initiator (client) Sender ID = IDs[0:6], responder (server) Sender ID = IDs[6:12]
//
// no ID Context, AES-CCM-16-64-128, and a fresh replay window (the context
// has never been used). The contexts live as long as the session: a
// restart or an evicted session means a new handshake.
const (
	exportSecret = "OSCORE Master Secret"
	exportSalt   = "OSCORE Master Salt"
	exportIDs    = "OSCORE Sender IDs"
	oscoreIDLen  = 6
)

// oscoreMTU is the largest datagram OSCORE mode sends or accepts (1152
// bytes: the IPv6 minimum MTU of 1280 less IP/UDP headers and room for
// DTLS). It holds because package oscore keeps every protected message
// within one inner block plus overhead: request bodies over 1024 bytes go as
// inner Block1 blocks of 512 bytes, and the server sends answers over 1024
// bytes as inner Block2 blocks of 512, each served from its response cache
// (the handler runs once per request). go-coap's own block-wise transfer
// stays off, as in the other modes (see blocks.go).
const oscoreMTU = 1152

// Diagnostics of package oscore's unprotected 4.01 that mean "handshake
// again".
const diagNoContext = "Security context not found"

func oscoreParams(s *session.Session, initiator bool) (oscore.Params, error) {
	sid := s.ID()
	secret, err := s.Export(exportSecret, sid[:], 16)
	if err != nil {
		return oscore.Params{}, err
	}
	salt, err := s.Export(exportSalt, sid[:], 8)
	if err != nil {
		return oscore.Params{}, err
	}
	ids, err := s.Export(exportIDs, sid[:], 2*oscoreIDLen)
	if err != nil {
		return oscore.Params{}, err
	}
	ini, resp := ids[:oscoreIDLen], ids[oscoreIDLen:]
	if bytes.Equal(ini, resp) {
		return oscore.Params{}, fmt.Errorf("%w: derived OSCORE ids collide", ErrAuth)
	}
	p := oscore.Params{MasterSecret: secret, MasterSalt: salt, SenderID: ini, RecipientID: resp, FreshReplayWindow: true}
	if !initiator {
		p.SenderID, p.RecipientID = resp, ini
	}
	return p, nil
}

// oscoreServer routes OSCORE requests by kid to a per-session handler of
// package oscore, whose inner handler knows the authenticated peer.
type oscoreServer struct {
	s     *Server
	mu    sync.Mutex
	byKID map[string]*oscoreEntry
}

type oscoreEntry struct {
	sess *session.Session
	h    mux.Handler
}

func newOSCOREServer(s *Server) (*oscoreServer, error) {
	return &oscoreServer{s: s, byKID: map[string]*oscoreEntry{}}, nil
}

// add installs the OSCORE context of a new session, and forgets contexts
// of sessions the table no longer holds.
func (o *oscoreServer) add(sess *session.Session) error {
	p, err := oscoreParams(sess, false)
	if err != nil {
		return err
	}
	sc, err := oscore.NewContext(p)
	if err != nil {
		return fmt.Errorf("coap: oscore context: %w", err)
	}
	resolve := func(_, _ []byte) (*oscore.Context, error) { return sc, nil }
	e := &oscoreEntry{sess: sess, h: oscore.Handler(resolve, mux.HandlerFunc(func(w mux.ResponseWriter, r *mux.Message) {
		o.s.serveInner(w, r, sess)
	}))}
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, old := range o.byKID {
		if _, live := o.s.table.peek(old.sess.ID()); !live {
			delete(o.byKID, k)
		}
	}
	if old, ok := o.byKID[string(p.RecipientID)]; ok && old.sess != sess {
		return fmt.Errorf("%w: OSCORE id collision", ErrAuth)
	}
	o.byKID[string(p.RecipientID)] = e
	return nil
}

// serve finds the context by kid (cheap: a map lookup before any crypto).
func (o *oscoreServer) serve(w mux.ResponseWriter, r *mux.Message) {
	v, err := r.Options().GetBytes(oscore.OptionNumber)
	if err != nil {
		writeDiag(w, codes.Unauthorized, "OSCORE required")
		return
	}
	ov, err := oscore.ParseOption(v)
	if err != nil {
		writeDiag(w, codes.BadOption, "Failed to decode COSE")
		return
	}
	o.mu.Lock()
	e, ok := o.byKID[string(ov.KID)]
	o.mu.Unlock()
	if ok {
		if _, ok = o.s.table.get(e.sess.ID()); !ok {
			o.mu.Lock()
			delete(o.byKID, string(ov.KID))
			o.mu.Unlock()
		}
	}
	if !ok {
		writeDiag(w, codes.Unauthorized, diagNoContext)
		return
	}
	e.h.ServeCOAP(w, r)
}

// serveInner handles a request package oscore verified and decrypted.
func (s *Server) serveInner(w mux.ResponseWriter, r *mux.Message, sess *session.Session) {
	md, err := metaOf(r.Message)
	if err != nil {
		_ = w.SetResponse(codes.BadRequest, message.TextPlain, nil)
		return
	}
	body, err := readBody(r.Body(), s.cfg.MaxPayload)
	if err != nil {
		_ = w.SetResponse(codes.RequestEntityTooLarge, message.TextPlain, nil)
		return
	}
	if md.code == codes.GET && md.observe == 1 {
		s.obs.remove(sess, md.token)
		_ = w.SetResponse(codes.Content, message.TextPlain, nil)
		return
	}
	cf := NoContentFormat
	if v, err := r.ContentFormat(); err == nil {
		cf = int(v)
	}
	in := &inbound{sender: sess.Peer(), cf: cf, payload: body, reply: plainReply}
	resp, obs := s.dispatch(&md, in)
	s.respond(w, sess, &md, in, resp, obs, nil, false)
}

// oscoreConn is a client's OSCORE state for one session.
type oscoreConn struct {
	sess *session.Session
	oc   *oscore.Client
}

func (c *Client) oscore(ctx context.Context) (*oscoreConn, error) {
	c.mu.Lock()
	oc := c.osc
	c.mu.Unlock()
	if oc != nil {
		return oc, nil
	}
	s, err := c.session(ctx)
	if err != nil {
		return nil, err
	}
	p, err := oscoreParams(s, true)
	if err != nil {
		return nil, err
	}
	sc, err := oscore.NewContext(p)
	if err != nil {
		return nil, fmt.Errorf("coap: oscore context: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.osc == nil || c.osc.sess != s {
		c.osc = &oscoreConn{sess: s, oc: oscore.NewClient(c.conn, sc)}
	}
	return c.osc, nil
}

func (c *Client) plainRequest(ctx context.Context, method codes.Code, path string, cf int, payload []byte) (*pool.Message, error) {
	p, q, _ := strings.Cut(path, "?")
	token, err := message.GetToken()
	if err != nil {
		return nil, fmt.Errorf("coap: token: %w", err)
	}
	req := pool.NewMessage(ctx)
	if err := req.SetPath(cleanPath(p)); err != nil {
		return nil, fmt.Errorf("coap: path: %w", err)
	}
	req.SetCode(method)
	req.SetToken(token)
	req.SetType(message.Confirmable)
	if q != "" {
		for _, part := range strings.Split(q, "&") {
			req.AddQuery(part)
		}
	}
	setBody(req, cf, payload)
	return req, nil
}

func (c *Client) exchangeOSCORE(ctx context.Context, method codes.Code, path string, cf int, payload []byte) (*Response, error) {
	o, err := c.oscore(ctx)
	if err != nil {
		return nil, err
	}
	req, err := c.plainRequest(ctx, method, path, cf, payload)
	if err != nil {
		return nil, err
	}
	resp, err := o.oc.Do(ctx, req)
	if err != nil {
		return nil, oscoreError(err)
	}
	return oscoreResponse(resp, o.sess.Peer(), c.cfg.MaxPayload)
}

// oscoreError turns package oscore's unprotected errors into refusals.
func oscoreError(err error) error {
	var se *oscore.ServerError
	if errors.As(err, &se) {
		return &refusal{code: se.Code, diag: se.Diagnostic}
	}
	return fmt.Errorf("%w: %w", ErrAuth, err)
}

func oscoreResponse(resp *pool.Message, peer string, limit int) (*Response, error) {
	body, err := readBody(resp.Body(), limit)
	if err != nil {
		return nil, err
	}
	out := &Response{Code: resp.Code(), ContentFormat: NoContentFormat, Payload: body, Sender: peer}
	if v, err := resp.ContentFormat(); err == nil {
		out.ContentFormat = int(v)
	}
	return out, nil
}

func (c *Client) observeOSCORE(ctx context.Context, path string, fn func(*Response)) (*Observation, *Response, error) {
	o, err := c.oscore(ctx)
	if err != nil {
		return nil, nil, err
	}
	first := make(chan *Response, 1)
	var once sync.Once
	// The query travels as Uri-Query options: the oscore client takes a
	// path, and "/sensors?unit=C" whole would be one path segment.
	p, q, _ := strings.Cut(path, "?")
	var opts []message.Option
	if q != "" {
		for _, part := range strings.Split(q, "&") {
			opts = append(opts, message.Option{ID: message.URIQuery, Value: []byte(part)})
		}
	}
	obs, err := o.oc.Observe(ctx, cleanPath(p), func(n *pool.Message) {
		r, err := oscoreResponse(n, o.sess.Peer(), c.cfg.MaxPayload)
		if err != nil {
			return
		}
		isFirst := false
		once.Do(func() { isFirst = true; first <- r })
		if !isFirst {
			fn(r)
		}
	}, opts...)
	if err != nil {
		return nil, nil, oscoreError(err)
	}
	select {
	case r := <-first:
		return &Observation{obs: obs}, r, nil
	case <-ctx.Done():
		_ = obs.Cancel(context.Background())
		return nil, nil, ctx.Err()
	}
}
