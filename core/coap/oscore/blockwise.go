package oscore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Inner (end-to-end) block-wise transfer, RFC 8613 §4.1.3.4.1 with RFC 7959:
// Block1/Block2 of the application message are Class E, so each block is its
// own OSCORE request/response and the reassembled body is what the
// application sees. Outer Block options, which fragment one OSCORE message,
// are left to go-coap's transport.

const (
	// innerBlockSZX is the block size the client uses for large request bodies:
	// 512 bytes keeps each protected block in one datagram without outer Block.
	innerBlockSZX = 5
	// MaxInnerBody bounds a body reassembled from inner blocks (both sides).
	MaxInnerBody = 1 << 20
	// maxPartialBodies bounds concurrent inner Block1 reassemblies per Handler.
	maxPartialBodies = 32
)

// ErrBodyTooLarge reports an inner block-wise body above MaxInnerBody.
var ErrBodyTooLarge = errors.New("oscore: block-wise body too large")

// block is a decoded Block1/Block2 value (RFC 7959 §2.2).
type block struct {
	num  uint32
	more bool
	szx  uint32
}

func (b block) size() int { return 1 << (b.szx + 4) }
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

// setOption replaces every id option in opts with o.
func setOption(opts message.Options, o message.Option) message.Options {
	return sortOptions(append(opts.Remove(o.ID), o))
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
// or a non-nil error response code when the block cannot be accepted.
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
	if p == nil || len(p.body) != int(b.num)*b.size() {
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

// transferKey identifies one inner Block1 transfer: same context and sender,
// method, target and Request-Tag (RFC 9175 §3).
func transferKey(sc *Context, m message.Message) string {
	key := fmt.Sprintf("%p|%d|", sc, m.Code)
	for _, o := range m.Options {
		if o.ID == message.URIPath || o.ID == message.URIQuery || o.ID == message.RequestTag {
			key += fmt.Sprintf("%d=%x|", o.ID, o.Value)
		}
	}
	return key
}

// sliceBody cuts the Block2 block b out of resp's payload (RFC 7959 §2.4).
func sliceBody(resp message.Message, b block) (message.Message, error) {
	start := int(b.num) * b.size()
	if start >= len(resp.Payload) && !(start == 0 && len(resp.Payload) == 0) {
		return message.Message{}, fmt.Errorf("%w: block %d beyond body", ErrMalformedInner, b.num)
	}
	end := min(start+b.size(), len(resp.Payload))
	out := resp
	out.Payload = resp.Payload[start:end]
	out.Options = setOption(resp.Options, block{num: b.num, more: end < len(resp.Payload), szx: b.szx}.option(message.Block2))
	return out, nil
}
