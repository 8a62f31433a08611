package oscore

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Inner (end-to-end) block-wise transfer, RFC 8613 §4.1.3.4.1 with RFC 7959
// and the Request-Tag of RFC 9175 §3: Block1/Block2 of the application
// message are Class E, so each block is its own OSCORE request/response and
// the reassembled body is what the application sees. Outer Block options,
// which would fragment one OSCORE message, are never needed: both ends keep
// every protected message within one block plus overhead.

const (
	// defaultBlockSZX is the block size both ends use unless told otherwise:
	// 512 bytes keeps each protected block well inside a 1152-byte datagram.
	defaultBlockSZX = 5
	// MaxInnerBody bounds a body reassembled from inner blocks (both sides).
	MaxInnerBody = 1 << 20
	// maxPartialBodies bounds concurrent inner Block1 reassemblies per Handler.
	maxPartialBodies = 32
	// maxCachedResponses and maxCachedBytes bound the responses a Handler
	// keeps for Block2 continuations; responseCacheTTL bounds how long. The
	// TTL is of the order of RFC 7252's EXCHANGE_LIFETIME (247 s).
	maxCachedResponses = 32
	maxCachedBytes     = 4 << 20
	responseCacheTTL   = 2 * time.Minute
	// requestTagLen is the length of the Request-Tag the client puts on its
	// Block1 transfers (RFC 9175 allows 0-8 bytes).
	requestTagLen = 8
)

// Sentinel errors of inner block-wise transfers.
var (
	ErrBodyTooLarge = errors.New("oscore: block-wise body too large")
	ErrBlockMixup   = errors.New("oscore: Block2 answer does not continue the transfer")
)

// block is a decoded Block1/Block2 value (RFC 7959 §2.2).
type block struct {
	num  uint32
	more bool
	szx  uint32
}

func (b block) size() int   { return 1 << (b.szx + 4) }
func (b block) offset() int { return int(b.num) * b.size() }
func (b block) value() uint32 {
	v := b.num<<4 | b.szx
	if b.more {
		v |= 8
	}
	return v
}
func (b block) option(id message.OptionID) message.Option {
	return message.Option{ID: id, Value: encodeUint(b.value())}
}

// blockAt is the block of size 2^(szx+4) that starts at byte offset off
// (off must be a multiple of that size).
func blockAt(off int, szx uint32, more bool) block {
	return block{num: uint32(off >> (szx + 4)), more: more, szx: szx}
}

// szxFor returns the SZX of the largest block size not above size,
// within RFC 7959's 16..1024 bytes.
func szxFor(size int) uint32 {
	szx := uint32(6)
	for szx > 0 && 1<<(szx+4) > size {
		szx--
	}
	return szx
}

// blockOption returns the Block option id of opts, if present and valid.
func blockOption(opts message.Options, id message.OptionID) (block, bool, error) {
	v, err := opts.GetBytes(id)
	if err != nil {
		return block{}, false, nil
	}
	if len(v) > 3 {
		return block{}, true, fmt.Errorf("%w: Block option of %d bytes", ErrMalformedInner, len(v))
	}
	raw := uint32(decodeUint(v))
	b := block{num: raw >> 4, more: raw&8 != 0, szx: raw & 7}
	if b.szx == 7 {
		return block{}, true, fmt.Errorf("%w: reserved block size", ErrMalformedInner)
	}
	return b, true, nil
}

// setOption returns a copy of opts with every id option replaced by o.
func setOption(opts message.Options, o message.Option) message.Options {
	return sortOptions(append(without(opts, o.ID), o))
}

// without returns a copy of opts minus the options ids. go-coap's
// Options.Remove shifts in place, and the option lists here are shared
// between a request and its blocks, a response and its cached whole.
func without(opts message.Options, ids ...message.OptionID) message.Options {
	out := make(message.Options, 0, len(opts)+1)
	for _, o := range opts {
		if !slices.Contains(ids, o.ID) {
			out = append(out, o)
		}
	}
	return out
}

// partialBody is an inner Block1 body being received.
type partialBody struct {
	body []byte
	seq  uint64 // insertion order, to evict the oldest
}

// assembler collects inner Block1 bodies on the server.
type assembler struct {
	mu      sync.Mutex
	partial map[string]*partialBody
	counter uint64
}

func newAssembler() *assembler { return &assembler{partial: map[string]*partialBody{}} }

// add stores one block. It returns the whole body when b is the last block,
// or a non-zero error response code when the block cannot be accepted.
// Blocks are placed by byte offset, so a client that switched to smaller
// blocks after the server asked for them (RFC 7959 §2.5) continues the body.
func (a *assembler) add(key string, b block, payload []byte) (body []byte, done bool, fail codes.Code) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.partial[key]
	if b.num == 0 {
		a.evictLocked()
		a.counter++
		p = &partialBody{seq: a.counter}
		a.partial[key] = p
	}
	if p == nil || len(p.body) != b.offset() {
		delete(a.partial, key)
		return nil, false, codes.RequestEntityIncomplete
	}
	if b.more && len(payload) != b.size() {
		delete(a.partial, key)
		return nil, false, codes.BadRequest
	}
	if len(p.body)+len(payload) > MaxInnerBody {
		delete(a.partial, key)
		return nil, false, codes.RequestEntityTooLarge
	}
	p.body = append(p.body, payload...)
	if b.more {
		return nil, false, 0
	}
	delete(a.partial, key)
	return p.body, true, 0
}

func (a *assembler) evictLocked() {
	if len(a.partial) < maxPartialBodies {
		return
	}
	var oldestKey string
	var oldest uint64 = ^uint64(0)
	for k, p := range a.partial {
		if p.seq < oldest {
			oldest, oldestKey = p.seq, k
		}
	}
	delete(a.partial, oldestKey)
}

// requestKey identifies the transfer a request belongs to: the security
// context (hence the peer), the method, the target, Accept and the
// Request-Tag (RFC 9175 §3). Block options, Size1/2, Echo, Observe and the
// body are left out: the blocks of one transfer differ in exactly those, and
// Block2 continuations carry neither body nor Observe (RFC 7959 §2.4, §2.6).
func requestKey(sc *Context, m message.Message) string {
	key := fmt.Sprintf("%p|%d|", sc, m.Code)
	for _, o := range m.Options {
		switch o.ID {
		case message.URIPath, message.URIQuery, message.Accept, message.RequestTag:
			key += fmt.Sprintf("%d=%x|", o.ID, o.Value)
		}
	}
	return key
}

// sliceBody cuts the Block2 block b out of resp's payload (RFC 7959 §2.4).
// The first block carries Size2, the size of the whole body.
func sliceBody(resp message.Message, b block) (message.Message, error) {
	start := b.offset()
	if start >= len(resp.Payload) && !(start == 0 && len(resp.Payload) == 0) {
		return message.Message{}, fmt.Errorf("%w: block %d beyond body", ErrMalformedInner, b.num)
	}
	end := min(start+b.size(), len(resp.Payload))
	out := resp
	out.Payload = resp.Payload[start:end]
	out.Options = setOption(resp.Options, block{num: b.num, more: end < len(resp.Payload), szx: b.szx}.option(message.Block2))
	if b.num == 0 {
		out.Options = setOption(out.Options, message.Option{ID: message.Size2, Value: encodeUint(uint32(len(resp.Payload)))})
	}
	return out, nil
}

// cachedResponse is a whole inner response whose blocks are being fetched.
type cachedResponse struct {
	resp    message.Message
	expires time.Time
	seq     uint64
}

// responseCache keeps inner responses for Block2 continuations, so that a
// handler runs once per request however many blocks its answer takes. It is
// bounded in entries, bytes and time; the oldest entry goes first.
type responseCache struct {
	mu      sync.Mutex
	entries map[string]*cachedResponse
	bytes   int
	counter uint64
	now     func() time.Time
}

func newResponseCache(now func() time.Time) *responseCache {
	return &responseCache{entries: map[string]*cachedResponse{}, now: now}
}

// put stores resp under key, replacing an older response of the same
// transfer key (the newer request wins).
func (c *responseCache) put(key string, resp message.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(key)
	c.expireLocked()
	for len(c.entries) > 0 && (len(c.entries) >= maxCachedResponses || c.bytes+len(resp.Payload) > maxCachedBytes) {
		c.dropOldestLocked()
	}
	c.counter++
	c.entries[key] = &cachedResponse{resp: resp, expires: c.now().Add(responseCacheTTL), seq: c.counter}
	c.bytes += len(resp.Payload)
}

// get returns the live response stored under key.
func (c *responseCache) get(key string) (message.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return message.Message{}, false
	}
	if !c.now().Before(e.expires) {
		c.dropLocked(key)
		return message.Message{}, false
	}
	return e.resp, true
}

func (c *responseCache) drop(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(key)
}

func (c *responseCache) dropLocked(key string) {
	if e, ok := c.entries[key]; ok {
		c.bytes -= len(e.resp.Payload)
		delete(c.entries, key)
	}
}

func (c *responseCache) expireLocked() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			c.dropLocked(k)
		}
	}
}

func (c *responseCache) dropOldestLocked() {
	var oldestKey string
	var oldest uint64 = ^uint64(0)
	for k, e := range c.entries {
		if e.seq < oldest {
			oldest, oldestKey = e.seq, k
		}
	}
	c.dropLocked(oldestKey)
}
