package oscore

import (
	"errors"
	"fmt"
	"sort"

	"github.com/plgd-dev/go-coap/v3/message"
)

// OptionNumber is the CoAP option number of the OSCORE option (RFC 8613 §2).
const OptionNumber message.OptionID = 9

// MaxPIVLen is the longest Partial IV (§6.1: n = 6 and 7 are reserved).
const MaxPIVLen = 5

// maxOptionLen bounds the OSCORE option value: flags, PIV, kid context with its
// length byte, and a kid (IDs are at most nonce length - 6 = 7 bytes).
const maxOptionLen = 1 + MaxPIVLen + 1 + 255 + 7

// Sentinel errors for malformed input.
var (
	ErrMalformedOption = errors.New("oscore: malformed OSCORE option")
	ErrMalformedInner  = errors.New("oscore: malformed inner message")
)

const (
	flagK        = 0x08 // kid present
	flagH        = 0x10 // kid context present
	flagReserved = 0xE0 // bits 5..7 (bit 5 is Group OSCORE; unsupported here)
	mask         = 0x07 // n: Partial IV length
)

// OptionValue is the decoded OSCORE option (RFC 8613 §6.1).
type OptionValue struct {
	PartialIV  []byte // nil when absent
	KIDContext []byte // nil when absent
	KID        []byte // nil when absent (an empty kid is []byte{})
}

// Encode returns the compressed option value. A value with no field is empty.
func (o OptionValue) Encode() ([]byte, error) {
	if len(o.PartialIV) > MaxPIVLen {
		return nil, fmt.Errorf("%w: partial IV of %d bytes", ErrMalformedOption, len(o.PartialIV))
	}
	if len(o.KIDContext) > 255 {
		return nil, fmt.Errorf("%w: kid context of %d bytes", ErrMalformedOption, len(o.KIDContext))
	}
	flags := byte(len(o.PartialIV))
	if o.KIDContext != nil {
		flags |= flagH
	}
	if o.KID != nil {
		flags |= flagK
	}
	if flags == 0 {
		return []byte{}, nil
	}
	out := append([]byte{flags}, o.PartialIV...)
	if o.KIDContext != nil {
		out = append(out, byte(len(o.KIDContext)))
		out = append(out, o.KIDContext...)
	}
	return append(out, o.KID...), nil
}

// ParseOption decodes and validates an OSCORE option value: reserved bits,
// reserved Partial IV lengths, non-minimal Partial IVs, truncation and
// trailing bytes are all rejected.
func ParseOption(v []byte) (OptionValue, error) {
	var o OptionValue
	if len(v) == 0 {
		return o, nil
	}
	if len(v) > maxOptionLen {
		return o, fmt.Errorf("%w: %d bytes", ErrMalformedOption, len(v))
	}
	flags := v[0]
	if flags == 0 {
		return o, fmt.Errorf("%w: all-zero flags must be sent as an empty value", ErrMalformedOption)
	}
	if flags&flagReserved != 0 {
		return o, fmt.Errorf("%w: reserved flag bits 0x%02x", ErrMalformedOption, flags&flagReserved)
	}
	n := int(flags & mask)
	if n > MaxPIVLen {
		return o, fmt.Errorf("%w: reserved partial IV length %d", ErrMalformedOption, n)
	}
	rest := v[1:]
	if len(rest) < n {
		return o, fmt.Errorf("%w: truncated partial IV", ErrMalformedOption)
	}
	if n > 0 {
		o.PartialIV = append([]byte{}, rest[:n]...)
		if n > 1 && o.PartialIV[0] == 0 {
			return o, fmt.Errorf("%w: partial IV has a leading zero", ErrMalformedOption)
		}
	}
	rest = rest[n:]
	if flags&flagH != 0 {
		if len(rest) < 1 {
			return o, fmt.Errorf("%w: truncated kid context length", ErrMalformedOption)
		}
		s := int(rest[0])
		if len(rest)-1 < s {
			return o, fmt.Errorf("%w: truncated kid context", ErrMalformedOption)
		}
		o.KIDContext = append([]byte{}, rest[1:1+s]...)
		rest = rest[1+s:]
	}
	if flags&flagK != 0 {
		o.KID = append([]byte{}, rest...)
		return o, nil
	}
	if len(rest) != 0 {
		return o, fmt.Errorf("%w: %d trailing bytes", ErrMalformedOption, len(rest))
	}
	return o, nil
}

// optionClass says where an option goes (RFC 8613 §4.1, RFC 9175 for Echo and
// Request-Tag). Options not listed, including unknown ones, are Class E.
type optionClass uint8

const (
	classE    optionClass = 1 << iota // inner, encrypted
	classU                            // outer, unprotected
	classOnly                         // outer only (never inside)
)

var optionClasses = map[message.OptionID]optionClass{
	message.URIHost:     classU | classOnly,
	message.URIPort:     classU | classOnly,
	message.ProxyScheme: classU | classOnly,
	OptionNumber:        classU | classOnly,
	message.ProxyURI:    classU | classOnly, // decomposed or refused, see splitRequest
	message.Observe:     classE | classU,    // §4.1.3.5
	message.MaxAge:      classE,             // outer Max-Age only on unprotected errors
	message.Block1:      classE,             // application Block is end-to-end (§4.1.3.4.1)
	message.Block2:      classE,
	message.Size1:       classE,
	message.Size2:       classE,
	message.NoResponse:  classE | classU,
}

func classOf(id message.OptionID) optionClass {
	if c, ok := optionClasses[id]; ok {
		return c
	}
	return classE
}

// encodeOptions serialises options in CoAP wire form (RFC 7252 §3.1), sorted by number.
func encodeOptions(opts message.Options) ([]byte, error) {
	sorted := append(message.Options(nil), opts...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	n, err := sorted.Marshal(nil)
	if !errors.Is(err, message.ErrTooSmall) && err != nil {
		return nil, fmt.Errorf("oscore: size options: %w", err)
	}
	buf := make([]byte, n)
	if _, err := sorted.Marshal(buf); err != nil {
		return nil, fmt.Errorf("oscore: encode options: %w", err)
	}
	return buf, nil
}

// decodeOptions parses CoAP options until the payload marker or the end. It
// keeps every option, known or not (unknown ones are Class E), and returns the
// payload. A payload marker followed by nothing is an error (RFC 7252 §3).
func decodeOptions(b []byte) (message.Options, []byte, error) {
	var opts message.Options
	var prev uint32
	for len(b) > 0 {
		if b[0] == 0xFF {
			if len(b) == 1 {
				return nil, nil, fmt.Errorf("%w: payload marker without payload", ErrMalformedInner)
			}
			return opts, b[1:], nil
		}
		delta, length := uint32(b[0]>>4), uint32(b[0]&0x0F)
		b = b[1:]
		var err error
		if delta, b, err = extendOptionField(delta, b); err != nil {
			return nil, nil, err
		}
		if length, b, err = extendOptionField(length, b); err != nil {
			return nil, nil, err
		}
		if uint32(len(b)) < length {
			return nil, nil, fmt.Errorf("%w: truncated option value", ErrMalformedInner)
		}
		id := prev + delta
		if id > 0xFFFF {
			return nil, nil, fmt.Errorf("%w: option number overflow", ErrMalformedInner)
		}
		opts = append(opts, message.Option{ID: message.OptionID(id), Value: append([]byte{}, b[:length]...)})
		b = b[length:]
		prev = id
	}
	return opts, nil, nil
}

// extendOptionField decodes the 13/14 extended forms of an option delta or length.
func extendOptionField(v uint32, b []byte) (uint32, []byte, error) {
	switch v {
	case 13:
		if len(b) < 1 {
			return 0, nil, fmt.Errorf("%w: truncated option header", ErrMalformedInner)
		}
		return uint32(b[0]) + 13, b[1:], nil
	case 14:
		if len(b) < 2 {
			return 0, nil, fmt.Errorf("%w: truncated option header", ErrMalformedInner)
		}
		return uint32(b[0])<<8 | uint32(b[1]) + 269, b[2:], nil
	case 15:
		return 0, nil, fmt.Errorf("%w: reserved option nibble 15", ErrMalformedInner)
	}
	return v, b, nil
}

// encodeUint gives the minimal big-endian encoding of a CoAP uint option.
func encodeUint(v uint32) []byte {
	var out []byte
	for v > 0 {
		out = append([]byte{byte(v)}, out...)
		v >>= 8
	}
	return out
}

func decodeUint(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}
