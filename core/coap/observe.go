package coap

import (
	"bytes"
	"sync"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
)

// observers are the registered observations (RFC 7641), per path. Each
// keeps the protection of the request that registered it, so every
// notification is bound to that request like its first response.
type observers struct {
	mu     sync.Mutex
	byPath map[string]map[obsKey]*observer
	count  int
}

// obsKey names an observation: the connection (or, in OSCORE mode, the
// session) and the token.
type obsKey struct {
	owner any
	token string
}

type observer struct {
	key    obsKey
	conn   mux.Conn
	req    meta
	sender string
	reply  replier
	seq    uint32
}

func newObservers() *observers { return &observers{byPath: map[string]map[obsKey]*observer{}} }

// maxObservers bounds the registrations a server keeps; beyond it a GET
// with Observe is answered once, without registering (RFC 7641 §4.1).
const maxObservers = 4096

// add registers (or re-registers) an observation and returns the Observe
// value of its first response, or false when the server is full.
func (o *observers) add(owner any, conn mux.Conn, md *meta, in *inbound) (uint32, bool) {
	k := obsKey{owner: owner, token: string(md.token)}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.count >= maxObservers {
		return 0, false
	}
	m := o.byPath[md.path]
	if m == nil {
		m = map[obsKey]*observer{}
		o.byPath[md.path] = m
	}
	if _, known := m[k]; !known {
		conn.AddOnClose(func() { o.dropOwner(owner) })
		o.count++
	}
	ob := &observer{key: k, conn: conn, req: *md, sender: in.sender, reply: in.reply, seq: 1}
	m[k] = ob
	return ob.seq, true
}

// remove cancels an observation (a GET with Observe 1 on the same
// connection and token). It needs no authentication: whoever can send on
// the client's address with its token could drop the notifications anyway.
func (o *observers) remove(owner any, token []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := obsKey{owner: owner, token: string(token)}
	for _, m := range o.byPath {
		if _, ok := m[k]; ok {
			delete(m, k)
			o.count--
			return true
		}
	}
	return false
}

func (o *observers) dropOwner(owner any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.byPath {
		for k := range m {
			if k.owner == owner {
				delete(m, k)
				o.count--
			}
		}
	}
}

func (o *observers) of(path string) []*observer {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]*observer, 0, len(o.byPath[path]))
	for _, ob := range o.byPath[path] {
		ob.seq = (ob.seq + 1) & 0xffffff
		cp := *ob
		out = append(out, &cp)
	}
	return out
}

// Observers reports how many observations of path are registered.
func (s *Server) Observers(path string) int {
	s.obs.mu.Lock()
	defer s.obs.mu.Unlock()
	return len(s.obs.byPath[cleanPath(path)])
}

// Notify runs the path's handler again for each observer (as the observer,
// with its query) and sends each result as a protected notification
// (non-confirmable). It returns how many were sent. A notification whose
// handler answers anything but 2.05 ends that observation.
func (s *Server) Notify(path string) int {
	path = cleanPath(path)
	h, ok := s.handler(path)
	if !ok || !s.flight.enter(false) {
		return 0
	}
	defer s.flight.leave()
	sent := 0
	for _, ob := range s.obs.of(path) {
		if !s.cfg.ACL.Allows(ob.sender, codes.GET, path) {
			s.obs.remove(ob.key.owner, []byte(ob.key.token))
			continue
		}
		resp := h(&Request{Method: codes.GET, Path: path, Query: ob.req.query, ContentFormat: NoContentFormat, Sender: ob.sender, Observe: true})
		if resp.Code == 0 {
			resp.Code = codes.Content
		}
		if err := s.notify(ob, resp); err != nil || resp.Code != codes.Content {
			s.obs.remove(ob.key.owner, []byte(ob.key.token))
			continue
		}
		sent++
	}
	return sent
}

func (s *Server) notify(ob *observer, resp Response) error {
	conn := ob.conn
	m := conn.AcquireMessage(conn.Context())
	defer conn.ReleaseMessage(m)
	rm := meta{code: resp.Code, token: []byte(ob.key.token), observe: -1}
	m.SetCode(resp.Code)
	m.SetToken(rm.token)
	m.SetType(message.NonConfirmable)
	if resp.Code == codes.Content {
		rm.observe = int64(ob.seq)
		m.SetObserve(ob.seq)
	}
	ocf, out, err := ob.reply(ob.req.forResponse(&rm), resp.ContentFormat, resp.Payload)
	if err != nil {
		return err
	}
	if len(out) > blockSize && s.osc == nil {
		// Block 0 now, the rest on request (RFC 7959 §2.6).
		id := s.blocks.store(conn, &stored{code: resp.Code, cf: ocf, opts: []message.Option{{ID: message.Observe, Value: encodeUint(ob.seq)}}, body: out,
			release: s.flight.hold()})
		m.SetOptionUint32(message.Block2, mustBlock(0, true))
		m.SetOptionBytes(optTransfer, id)
		out, _, _ = slice(out, 0)
	}
	if out != nil || ocf != NoContentFormat {
		m.SetContentFormat(message.MediaType(max(ocf, 0)))
		m.SetBody(bytes.NewReader(out))
	}
	return conn.WriteMessage(m)
}
