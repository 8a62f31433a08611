package coap

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	udpClient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// Block-wise transfer (RFC 7959) of protected messages, done here rather
// than by go-coap: with go-coap v3.8.0's block-wise transfer, a lost
// continuation block was not retransmitted in the lossy relay test and the
// exchange timed out. Here every block is its own confirmable exchange,
// with CoAP's retransmission and the server's duplicate detection.
//
//   - Block1: a request body over blockSize goes as consecutive blocks
//     with one Request-Tag (RFC 9175 §3) and a fresh token each, the last
//     with the request's own (bound) token: go-coap matches a response to
//     its request by token alone, so a late 2.31 for an earlier block must
//     not be taken for the answer to a later one. The server answers 2.31
//     Continue until the last block, then processes the whole request once.
//   - Block2: a response (or notification) body over blockSize comes back
//     as block 0 with a transfer id (option optTransfer); the client asks
//     for blocks 1.. with new tokens, the same path and that id.
//
// Block options and the transfer id are hop options, outside the binding:
// the protected body is checked whole, after reassembly.
const (
	blockSZX  = blockwise.SZX1024
	blockSize = 1024
	// optTransfer names a stored response for its Block2 continuations:
	// an elective, safe-to-forward option from the experimental range
	// (RFC 7252 §12.2).
	optTransfer message.OptionID = 65000
	// maxTransfers bounds the transfers a server holds at once (oldest
	// dropped first): with MaxPayload, the memory an attacker can pin.
	maxTransfers = 256
)

// transfers is a server's block-wise state: partial request bodies and
// stored responses, bounded in number, size and age.
type transfers struct {
	mu    sync.Mutex
	limit int
	ttl   time.Duration
	now   func() time.Time
	in    map[string]*partial
	out   map[string]*stored
}

type partial struct {
	body    []byte
	expires time.Time
}

type stored struct {
	code    codes.Code
	cf      int
	opts    []message.Option
	body    []byte
	expires time.Time
	// release ends the answer's time in flight (Server.Close waits for
	// it): once its last block was served, or when it is dropped.
	release func()
}

func (s *stored) done() {
	if s.release != nil {
		s.release()
	}
}

func newTransfers(limit int, ttl time.Duration, now func() time.Time) *transfers {
	return &transfers{limit: limit, ttl: ttl, now: now, in: map[string]*partial{}, out: map[string]*stored{}}
}

func transferKey(conn mux.Conn, id []byte) string {
	return conn.RemoteAddr().String() + "|" + string(id)
}

func blockOf(m *pool.Message, id message.OptionID) (num int64, more, ok bool, err error) {
	v, gerr := m.GetOptionUint32(id)
	if gerr != nil {
		return 0, false, false, nil
	}
	szx, num, more, err := blockwise.DecodeBlockOption(v)
	if err == nil && szx != blockSZX && (more || num != 0) {
		err = fmt.Errorf("%w: block size %d", ErrMalformed, szx.Size())
	}
	return num, more, true, err
}

func blockOption(id message.OptionID, num int64, more bool) message.Option {
	v, _ := blockwise.EncodeBlockOption(blockSZX, num, more)
	return message.Option{ID: id, Value: encodeUint(v)}
}

// sweepLocked drops expired entries, and the oldest when over maxTransfers.
func (t *transfers) sweepLocked() {
	now := t.now()
	for k, p := range t.in {
		if now.After(p.expires) {
			delete(t.in, k)
		}
	}
	for k, s := range t.out {
		if now.After(s.expires) {
			delete(t.out, k)
			s.done()
		}
	}
	for len(t.in)+len(t.out) >= maxTransfers {
		var oldest string
		var at time.Time
		for k, p := range t.in {
			if oldest == "" || p.expires.Before(at) {
				oldest, at = "in"+k, p.expires
			}
		}
		for k, s := range t.out {
			if oldest == "" || s.expires.Before(at) {
				oldest, at = "out"+k, s.expires
			}
		}
		if len(oldest) > 2 && oldest[:2] == "in" {
			delete(t.in, oldest[2:])
		} else {
			t.out[oldest[3:]].done()
			delete(t.out, oldest[3:])
		}
	}
}

// addBlock1 appends block num of a request body. Blocks must come in
// order; a repeated last block is answered again. It returns the whole
// body once the last block arrived, or the code to answer with.
func (t *transfers) addBlock1(key string, num int64, more bool, payload []byte) (body []byte, done bool, fail codes.Code) {
	if more && len(payload) != blockSize {
		return nil, false, codes.BadOption
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.in[key]
	if num == 0 {
		t.sweepLocked()
		p = &partial{}
		t.in[key] = p
	}
	switch {
	case p == nil:
		return nil, false, codes.RequestEntityIncomplete
	case num*blockSize != int64(len(p.body)):
		delete(t.in, key)
		return nil, false, codes.RequestEntityIncomplete
	case len(p.body)+len(payload) > t.limit:
		delete(t.in, key)
		return nil, false, codes.RequestEntityTooLarge
	}
	p.body = append(p.body, payload...)
	p.expires = t.now().Add(t.ttl)
	if more {
		return nil, false, 0
	}
	delete(t.in, key)
	return p.body, true, 0
}

// store keeps a response body for its Block2 continuations and returns
// its transfer id.
func (t *transfers) store(conn mux.Conn, s *stored) []byte {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked()
	s.expires = t.now().Add(t.ttl)
	t.out[transferKey(conn, id)] = s
	return id
}

func (t *transfers) load(key string) (*stored, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.out[key]
	if ok && t.now().After(s.expires) {
		delete(t.out, key)
		s.done()
		return nil, false
	}
	return s, ok
}

// finish drops a stored answer whose last block was served: a
// retransmitted request for it is answered from go-coap's cache.
func (t *transfers) finish(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.out[key]; ok {
		delete(t.out, key)
		s.done()
	}
}

// slice returns block num of body and whether more follow.
func slice(body []byte, num int64) ([]byte, bool, bool) {
	off := num * blockSize
	if num < 0 || off >= int64(len(body)) && !(off == 0 && len(body) == 0) {
		return nil, false, false
	}
	end := min(off+blockSize, int64(len(body)))
	return body[off:end], end < int64(len(body)), true
}

// writeBody answers with a whole body, as Block2 block 0 when it is larger
// than one block.
func (s *Server) writeBody(w mux.ResponseWriter, code codes.Code, cf int, body []byte, opts ...message.Option) {
	if len(body) > blockSize {
		id := s.blocks.store(w.Conn(), &stored{code: code, cf: cf, opts: opts, body: body, release: s.flight.hold()})
		first, _, _ := slice(body, 0)
		opts = append(append([]message.Option(nil), opts...), blockOption(message.Block2, 0, true),
			message.Option{ID: optTransfer, Value: id}, message.Option{ID: message.Size2, Value: encodeUint(uint32(len(body)))})
		body = first
	}
	var rd *bytes.Reader
	if body != nil || cf != NoContentFormat {
		rd = bytes.NewReader(body)
	}
	if rd == nil {
		_ = w.SetResponse(code, 0, nil, opts...)
		return
	}
	_ = w.SetResponse(code, message.MediaType(max(cf, 0)), rd, opts...)
}

// serveBlock2 answers a continuation request from a stored response.
func (s *Server) serveBlock2(w mux.ResponseWriter, r *mux.Message, num int64) {
	id, err := r.Options().GetBytes(optTransfer)
	st, ok := s.blocks.load(transferKey(w.Conn(), id))
	if err != nil || !ok {
		writeDiag(w, codes.RequestEntityIncomplete, "")
		return
	}
	part, more, ok := slice(st.body, num)
	if !ok {
		writeDiag(w, codes.BadOption, "")
		return
	}
	opts := append(append([]message.Option(nil), st.opts...), blockOption(message.Block2, num, more), message.Option{ID: optTransfer, Value: id})
	_ = w.SetResponse(st.code, message.MediaType(max(st.cf, 0)), bytes.NewReader(part), opts...)
	if !more {
		s.blocks.finish(transferKey(w.Conn(), id))
	}
}

// receiveBlock1 handles a request block. It returns the whole body when
// the request is complete, with the Block1 option its final response
// carries; otherwise it has answered.
func (s *Server) receiveBlock1(w mux.ResponseWriter, r *mux.Message, body []byte) ([]byte, []message.Option, bool) {
	num, more, ok, err := blockOf(r.Message, message.Block1)
	if err != nil {
		writeDiag(w, codes.BadOption, "")
		return nil, nil, false
	}
	if !ok {
		return body, nil, true
	}
	tag, err := r.Options().GetBytes(message.RequestTag)
	if err != nil {
		tag = r.Token() // a client without Request-Tag keeps one token
	}
	full, done, fail := s.blocks.addBlock1(transferKey(w.Conn(), tag), num, more, body)
	switch {
	case fail != 0:
		writeDiag(w, fail, "")
		return nil, nil, false
	case !done:
		_ = w.SetResponse(codes.Continue, 0, nil, blockOption(message.Block1, num, true))
		return nil, nil, false
	}
	return full, []message.Option{blockOption(message.Block1, num, false)}, true
}

// doBlockwise sends req (whose body is payload) as Block1 blocks when
// needed and fetches a Block2 response whole. The returned message has the
// whole body; the caller releases it.
func doBlockwise(ctx context.Context, conn *udpClient.Conn, req *pool.Message, limit int) (*pool.Message, error) {
	payload, err := readBody(req.Body(), limit)
	if err != nil {
		return nil, err
	}
	resp, err := sendBlocks(ctx, conn, req, payload)
	if err != nil {
		return nil, err
	}
	num, more, ok, err := blockOf(resp, message.Block2)
	if err != nil || !ok || !more || num != 0 {
		return resp, err
	}
	path, _ := req.Path()
	return fetchRest(ctx, conn, path, req.Code(), resp, limit)
}

func sendBlocks(ctx context.Context, conn *udpClient.Conn, req *pool.Message, payload []byte) (*pool.Message, error) {
	if len(payload) <= blockSize {
		if payload != nil {
			req.SetBody(bytes.NewReader(payload))
		}
		return conn.Do(req)
	}
	token := bytes.Clone(req.Token())
	tag := make([]byte, 8)
	_, _ = rand.Read(tag)
	req.SetOptionBytes(message.RequestTag, tag)
	for num := int64(0); ; num++ {
		part, more, _ := slice(payload, num)
		if err := setBlock(req, num, more, part, token); err != nil {
			return nil, err
		}
		req.SetMessageID(conn.GetMessageID()) // a new exchange per block
		resp, err := conn.Do(req)
		if err != nil {
			return nil, err
		}
		if !more {
			return resp, nil
		}
		if resp.Code() != codes.Continue {
			return resp, nil // refused midway: the caller sees the error
		}
		conn.ReleaseMessage(resp)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// setBlock makes req block num of a Block1 transfer: a fresh token for
// every block but the last, which carries the request's own.
func setBlock(req *pool.Message, num int64, more bool, part, token []byte) error {
	req.SetOptionUint32(message.Block1, mustBlock(num, more))
	req.SetBody(bytes.NewReader(part))
	if !more {
		req.SetToken(token)
		return nil
	}
	t, err := message.GetToken()
	if err != nil {
		return fmt.Errorf("coap: token: %w", err)
	}
	req.SetToken(t)
	return nil
}

func mustBlock(num int64, more bool) uint32 {
	v, _ := blockwise.EncodeBlockOption(blockSZX, num, more)
	return v
}

// fetchRest asks for blocks 1.. of a stored response and returns first
// with the whole body.
func fetchRest(ctx context.Context, conn *udpClient.Conn, path string, code codes.Code, first *pool.Message, limit int) (*pool.Message, error) {
	id, err := first.Options().GetBytes(optTransfer)
	if err != nil {
		conn.ReleaseMessage(first)
		return nil, fmt.Errorf("%w: block-wise response without transfer id", ErrMalformed)
	}
	id = bytes.Clone(id)
	body, err := readBody(first.Body(), blockSize)
	if err != nil {
		conn.ReleaseMessage(first)
		return nil, err
	}
	for num := int64(1); ; num++ {
		next, err := conn.NewGetRequest(ctx, path)
		if err != nil {
			conn.ReleaseMessage(first)
			return nil, err
		}
		next.SetCode(code)
		next.SetOptionUint32(message.Block2, mustBlock(num, false))
		next.SetOptionBytes(optTransfer, id)
		resp, err := conn.Do(next)
		conn.ReleaseMessage(next)
		if err != nil {
			conn.ReleaseMessage(first)
			return nil, err
		}
		part, rerr := readBody(resp.Body(), blockSize)
		n, more, ok, berr := blockOf(resp, message.Block2)
		got := resp.Code()
		conn.ReleaseMessage(resp)
		switch {
		case rerr != nil || berr != nil || !ok || n != num || got != first.Code():
			conn.ReleaseMessage(first)
			return nil, fmt.Errorf("%w: block %d of a response: %v", ErrMalformed, num, got)
		case len(body)+len(part) > limit:
			conn.ReleaseMessage(first)
			return nil, fmt.Errorf("%w: response over %d bytes", ErrTooLarge, limit)
		}
		body = append(body, part...)
		if !more {
			break
		}
	}
	first.Remove(message.Block2)
	first.Remove(optTransfer)
	first.Remove(message.Size2)
	first.SetBody(bytes.NewReader(body))
	return first, nil
}
