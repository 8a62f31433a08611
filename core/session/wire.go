package session

import (
	"encoding/binary"
	"fmt"
)

// Version is the first byte of every frame this package writes.
const Version = 0x01

// Frame types (second byte).
const (
	typeSealed   = 0x10
	typeInit     = 0x20
	typeResponse = 0x21
	typeData     = 0x30
)

// writer appends fields; lengths are checked by the callers that know
// their limits, so an oversized field is a programming error reported as
// ErrMalformed rather than a silently truncated prefix.
type writer struct {
	b   []byte
	err error
}

func (w *writer) u8(v byte)      { w.b = append(w.b, v) }
func (w *writer) raw(p []byte)   { w.b = append(w.b, p...) }
func (w *writer) u16(v uint16)   { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32)   { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64)   { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) str8(s string)  { w.bytes8([]byte(s)) }
func (w *writer) str16(s string) { w.bytes16([]byte(s)) }

func (w *writer) bytes8(p []byte) {
	if len(p) > 0xff {
		w.fail("field of %d bytes exceeds u8 length", len(p))
		return
	}
	w.u8(byte(len(p)))
	w.raw(p)
}

func (w *writer) bytes16(p []byte) {
	if len(p) > 0xffff {
		w.fail("field of %d bytes exceeds u16 length", len(p))
		return
	}
	w.u16(uint16(len(p)))
	w.raw(p)
}

func (w *writer) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// reader consumes fields; the first short read sticks, so a parser checks
// err once at the end. Every length is compared with what is left before
// anything is sliced or allocated.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = fmt.Errorf("%w: field of %d bytes at offset %d overruns the frame", ErrMalformed, n, r.off)
		return nil
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8() byte {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if p := r.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

func (r *reader) bytes8() []byte  { return r.take(int(r.u8())) }
func (r *reader) bytes16() []byte { return r.take(int(r.u16())) }

// rest returns everything left.
func (r *reader) rest() []byte { return r.take(len(r.b) - r.off) }

// end reports the sticky error, or trailing bytes.
func (r *reader) end() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b)-r.off)
	}
	return nil
}

// header checks the version and type bytes before any other field is read.
func (r *reader) header(typ byte) {
	v, t := r.u8(), r.u8()
	if r.err == nil && (v != Version || t != typ) {
		r.err = fmt.Errorf("%w: version 0x%02x type 0x%02x, want 0x%02x 0x%02x", ErrMalformed, v, t, Version, typ)
	}
}
