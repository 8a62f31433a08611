package oscore

import (
	"errors"
	"fmt"
	"sync"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Sentinel errors of message protection. The server maps them to the error
// responses of RFC 8613 §8.2 (see ErrorResponseCode).
var (
	ErrNotProtected      = errors.New("oscore: message has no OSCORE option")
	ErrDuplicateOption   = errors.New("oscore: more than one OSCORE option")
	ErrContextNotFound   = errors.New("oscore: security context not found")
	ErrDecrypt           = errors.New("oscore: decryption failed")
	ErrReplay            = errors.New("oscore: replay detected")
	ErrEchoRequired      = errors.New("oscore: request freshness unknown, Echo required")
	ErrProxyURI          = errors.New("oscore: Proxy-Uri is not supported; use Proxy-Scheme and Uri-* options")
	ErrNotRequest        = errors.New("oscore: not a request code")
	ErrNotResponse       = errors.New("oscore: not a response code")
	ErrNoExchange        = errors.New("oscore: response protection needs the request exchange")
	ErrUnexpectedPIVless = errors.New("oscore: second response without Partial IV for one request")
)

// Exchange binds a response to the request it answers: the request's kid and
// Partial IV enter every response's AAD and, unless the response carries its
// own Partial IV, its nonce (RFC 8613 §5.4, §8.3). On the client it also keeps
// the Notification Number of an observation (§7.4.1).
type Exchange struct {
	ctx        *Context
	requestKID []byte
	requestPIV []byte
	// reuseNonce is false when the request's freshness is unproven (Echo path):
	// its nonce may be a replay, so the response must use a fresh one.
	reuseNonce bool
	observe    bool       // the request registered an observation
	outerCode  codes.Code // POST, or FETCH for Observe requests (§4.2)

	mu          sync.Mutex
	notifSeen   bool
	notifNumber uint64
	pivlessUsed bool
}

// RequestKID returns the kid of the request (its sender ID).
func (e *Exchange) RequestKID() []byte { return append([]byte{}, e.requestKID...) }

// RequestPIV returns the Partial IV of the request.
func (e *Exchange) RequestPIV() []byte { return append([]byte{}, e.requestPIV...) }

// Observe reports whether the request was an Observe registration.
func (e *Exchange) Observe() bool { return e.observe }

// Context returns the security context of the exchange.
func (e *Exchange) Context() *Context { return e.ctx }

func isRequestCode(c codes.Code) bool  { return c >= 1 && c < 32 }
func isResponseCode(c codes.Code) bool { return c >= 64 && c < 192 }

// encodePIV gives the minimal Partial IV encoding of seq (0 encodes as 0x00).
func encodePIV(seq uint64) []byte {
	if seq == 0 {
		return []byte{0}
	}
	var out []byte
	for seq > 0 {
		out = append([]byte{byte(seq)}, out...)
		seq >>= 8
	}
	return out
}

// plaintext builds code || options || 0xFF payload (§5.3).
func plaintext(code codes.Code, inner message.Options, payload []byte) ([]byte, error) {
	opts, err := encodeOptions(inner)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+len(opts)+1+len(payload))
	out = append(out, byte(code))
	out = append(out, opts...)
	if len(payload) > 0 {
		out = append(out, 0xFF)
		out = append(out, payload...)
	}
	return out, nil
}

// parsePlaintext is the inverse of plaintext.
func parsePlaintext(pt []byte) (codes.Code, message.Options, []byte, error) {
	if len(pt) == 0 {
		return 0, nil, nil, fmt.Errorf("%w: empty plaintext", ErrMalformedInner)
	}
	opts, payload, err := decodeOptions(pt[1:])
	if err != nil {
		return 0, nil, nil, err
	}
	for _, o := range opts {
		if o.ID == OptionNumber {
			return 0, nil, nil, fmt.Errorf("%w: nested OSCORE option", ErrMalformedInner)
		}
	}
	return codes.Code(pt[0]), opts, payload, nil
}

// oscoreOption returns the single OSCORE option value of opts.
func oscoreOption(opts message.Options) (OptionValue, error) {
	var found []byte
	n := 0
	for _, o := range opts {
		if o.ID == OptionNumber {
			found = o.Value
			n++
		}
	}
	switch n {
	case 0:
		return OptionValue{}, ErrNotProtected
	case 1:
		return ParseOption(found)
	}
	return OptionValue{}, ErrDuplicateOption
}

// ProtectRequest turns the CoAP request m into an OSCORE request (§8.1). It
// consumes a sender sequence number, and fails closed when none can be persisted.
func (c *Context) ProtectRequest(m message.Message) (message.Message, *Exchange, error) {
	if !isRequestCode(m.Code) {
		return message.Message{}, nil, fmt.Errorf("%w: %v", ErrNotRequest, m.Code)
	}
	var inner, outer message.Options
	observe := false
	for _, o := range m.Options {
		cl := classOf(o.ID)
		if o.ID == message.ProxyURI {
			return message.Message{}, nil, ErrProxyURI
		}
		if o.ID == OptionNumber {
			return message.Message{}, nil, fmt.Errorf("%w: request is already protected", ErrDuplicateOption)
		}
		if o.ID == message.Observe {
			observe = true
		}
		if cl&classE != 0 {
			inner = append(inner, o)
		}
		if cl&classU != 0 {
			outer = append(outer, o)
		}
	}
	pt, err := plaintext(m.Code, inner, m.Payload)
	if err != nil {
		return message.Message{}, nil, err
	}
	seq, err := c.seq.take()
	if err != nil {
		return message.Message{}, nil, err
	}
	piv := encodePIV(seq)
	ov := OptionValue{PartialIV: piv, KID: c.senderID, KIDContext: c.idContext}
	optVal, err := ov.Encode()
	if err != nil {
		return message.Message{}, nil, err
	}
	aad, err := c.aad(c.senderID, piv)
	if err != nil {
		return message.Message{}, nil, err
	}
	ct := c.senderAEAD.Seal(nil, c.nonce(c.senderID, piv), pt, aad)
	outerCode := codes.POST
	if observe {
		outerCode = codes.FETCH
	}
	outer = append(outer, message.Option{ID: OptionNumber, Value: optVal})
	out := message.Message{
		Token: m.Token, Type: m.Type, MessageID: m.MessageID,
		Code: outerCode, Options: sortOptions(outer), Payload: ct,
	}
	ex := &Exchange{ctx: c, requestKID: c.SenderID(), requestPIV: piv, reuseNonce: true, observe: observe, outerCode: outerCode}
	return out, ex, nil
}

// UnprotectRequest verifies and decrypts the OSCORE request m (§8.2) and
// applies the replay window (§7.4). Nothing in the context changes unless the
// AEAD tag verifies. When the replay window is uninitialized (after a reboot)
// and the request carries no valid Echo, it returns ErrEchoRequired together
// with the decrypted request and its Exchange: answer it with ProtectEchoChallenge.
func (c *Context) UnprotectRequest(m message.Message) (message.Message, *Exchange, error) {
	ov, err := oscoreOption(m.Options)
	if err != nil {
		return message.Message{}, nil, err
	}
	if ov.PartialIV == nil || ov.KID == nil {
		return message.Message{}, nil, fmt.Errorf("%w: request without kid or Partial IV", ErrMalformedOption)
	}
	if string(ov.KID) != string(c.recipientID) || (ov.KIDContext != nil && string(ov.KIDContext) != string(c.idContext)) {
		return message.Message{}, nil, ErrContextNotFound
	}
	seq := decodeUint(ov.PartialIV)
	initialized, fresh := c.replay.check(seq)
	if initialized && !fresh {
		return message.Message{}, nil, fmt.Errorf("%w: sequence number %d", ErrReplay, seq)
	}
	if len(m.Payload) < c.spec.tagLen+1 {
		return message.Message{}, nil, fmt.Errorf("%w: ciphertext too short", ErrDecrypt)
	}
	aad, err := c.aad(ov.KID, ov.PartialIV)
	if err != nil {
		return message.Message{}, nil, err
	}
	pt, err := c.recipAEAD.Open(nil, c.nonce(ov.KID, ov.PartialIV), m.Payload, aad)
	if err != nil {
		return message.Message{}, nil, ErrDecrypt
	}
	code, inner, payload, err := parsePlaintext(pt)
	if err != nil {
		return message.Message{}, nil, err
	}
	if !isRequestCode(code) {
		return message.Message{}, nil, fmt.Errorf("%w: inner code %v", ErrNotRequest, code)
	}
	ex := &Exchange{ctx: c, requestKID: ov.KID, requestPIV: ov.PartialIV, reuseNonce: true, outerCode: m.Code}
	out := c.innerRequest(m, code, inner, payload, ex)
	if !initialized {
		echo, _ := out.Options.GetBytes(message.Echo)
		if echo == nil || !c.echo.redeem(echo) {
			ex.reuseNonce = false
			return out, ex, ErrEchoRequired
		}
		c.replay.initializeFrom(seq)
		return out, ex, nil
	}
	if !c.replay.accept(seq) {
		return message.Message{}, nil, fmt.Errorf("%w: sequence number %d", ErrReplay, seq)
	}
	return out, ex, nil
}

// innerRequest assembles the decrypted request: inner options plus the outer
// routing options. The inner Observe counts only when the outer one is present
// too (a proxy may strip the outer one, §4.1.3.5.1).
func (c *Context) innerRequest(m message.Message, code codes.Code, inner message.Options, payload []byte, ex *Exchange) message.Message {
	outerObserve := m.Options.HasOption(message.Observe)
	opts := make(message.Options, 0, len(inner)+2)
	for _, o := range inner {
		if o.ID == message.Observe {
			if !outerObserve {
				continue
			}
			ex.observe = decodeUint(o.Value) == 0
		}
		opts = append(opts, o)
	}
	for _, o := range m.Options {
		if o.ID == message.URIHost || o.ID == message.URIPort || o.ID == message.ProxyScheme {
			opts = append(opts, o)
		}
	}
	return message.Message{
		Token: m.Token, Type: m.Type, MessageID: m.MessageID,
		Code: code, Options: sortOptions(opts), Payload: payload,
	}
}

// ProtectResponse protects the response m to the request of ex (§8.3). With
// ownPIV false the request nonce is reused (allowed once per request); it is
// forced to true for Observe notifications and for requests whose freshness
// was not proven. A response with an Observe option is a notification: its
// value goes outside, the inner Observe is empty (§4.1.3.5.2).
func (c *Context) ProtectResponse(m message.Message, ex *Exchange, ownPIV bool) (message.Message, error) {
	if ex == nil || ex.ctx != c {
		return message.Message{}, ErrNoExchange
	}
	if !isResponseCode(m.Code) {
		return message.Message{}, fmt.Errorf("%w: %v", ErrNotResponse, m.Code)
	}
	var inner, outer message.Options
	notification := false
	for _, o := range m.Options {
		switch {
		case o.ID == OptionNumber:
			return message.Message{}, fmt.Errorf("%w: response is already protected", ErrDuplicateOption)
		case o.ID == message.Observe:
			inner = append(inner, message.Option{ID: message.Observe, Value: []byte{}})
			notification = true
			ownPIV = true
		case classOf(o.ID)&classE != 0:
			inner = append(inner, o)
		}
	}
	if !ex.reuseNonce {
		ownPIV = true
	}
	pt, err := plaintext(m.Code, inner, m.Payload)
	if err != nil {
		return message.Message{}, err
	}
	aad, err := c.aad(ex.requestKID, ex.requestPIV)
	if err != nil {
		return message.Message{}, err
	}
	var ov OptionValue
	nonce := c.nonce(ex.requestKID, ex.requestPIV)
	if ownPIV {
		seq, err := c.seq.take()
		if err != nil {
			return message.Message{}, err
		}
		ov.PartialIV = encodePIV(seq)
		nonce = c.nonce(c.senderID, ov.PartialIV)
		if notification {
			// The outer Observe orders notifications for intermediaries and the
			// client's CoAP layer; the Partial IV is monotonic, so it serves (§4.1.3.5.2).
			outer = append(outer, message.Option{ID: message.Observe, Value: encodeUint(uint32(seq & 0xFFFFFF))})
		}
	}
	optVal, err := ov.Encode()
	if err != nil {
		return message.Message{}, err
	}
	outerCode := codes.Changed
	if ex.outerCode == codes.FETCH {
		outerCode = codes.Content
	}
	outer = append(outer, message.Option{ID: OptionNumber, Value: optVal})
	return message.Message{
		Token: m.Token, Type: m.Type, MessageID: m.MessageID,
		Code: outerCode, Options: sortOptions(outer),
		Payload: c.senderAEAD.Seal(nil, nonce, pt, aad),
	}, nil
}

// ProtectEchoChallenge answers a request that returned ErrEchoRequired with a
// protected 4.01 Unauthorized carrying a fresh Echo option (RFC 9175 §2.4,
// RFC 8613 Appendix B.1.2). It always uses a fresh Partial IV.
func (c *Context) ProtectEchoChallenge(req message.Message, ex *Exchange) (message.Message, error) {
	echo, err := c.echo.issue()
	if err != nil {
		return message.Message{}, fmt.Errorf("oscore: issue Echo: %w", err)
	}
	resp := message.Message{
		Token: req.Token, Code: codes.Unauthorized,
		Options: message.Options{{ID: message.Echo, Value: echo}},
	}
	return c.ProtectResponse(resp, ex, true)
}

// UnprotectResponse verifies and decrypts the OSCORE response m to the request
// of ex (§8.4). For notifications of an observation it enforces the
// Notification Number (§7.4.1): each must carry a Partial IV higher than any
// seen before. The returned message's Observe option, if any, carries the
// outer value.
func (c *Context) UnprotectResponse(m message.Message, ex *Exchange) (message.Message, error) {
	if ex == nil || ex.ctx != c {
		return message.Message{}, ErrNoExchange
	}
	ov, err := oscoreOption(m.Options)
	if err != nil {
		return message.Message{}, err
	}
	if ov.KID != nil && string(ov.KID) != string(c.recipientID) {
		return message.Message{}, ErrContextNotFound
	}
	if ov.KIDContext != nil && string(ov.KIDContext) != string(c.idContext) {
		return message.Message{}, ErrContextNotFound
	}
	if len(m.Payload) < c.spec.tagLen+1 {
		return message.Message{}, fmt.Errorf("%w: ciphertext too short", ErrDecrypt)
	}
	aad, err := c.aad(ex.requestKID, ex.requestPIV)
	if err != nil {
		return message.Message{}, err
	}
	nonce := c.nonce(ex.requestKID, ex.requestPIV)
	if ov.PartialIV != nil {
		nonce = c.nonce(c.recipientID, ov.PartialIV)
	}
	pt, err := c.recipAEAD.Open(nil, nonce, m.Payload, aad)
	if err != nil {
		return message.Message{}, ErrDecrypt
	}
	code, inner, payload, err := parsePlaintext(pt)
	if err != nil {
		return message.Message{}, err
	}
	if !isResponseCode(code) {
		return message.Message{}, fmt.Errorf("%w: inner code %v", ErrNotResponse, code)
	}
	if err := ex.checkFreshResponse(ov.PartialIV); err != nil {
		return message.Message{}, err
	}
	outerObs, obsErr := m.Options.GetBytes(message.Observe)
	opts := make(message.Options, 0, len(inner)+1)
	for _, o := range inner {
		if o.ID == message.Observe {
			continue
		}
		opts = append(opts, o)
	}
	if obsErr == nil {
		opts = append(opts, message.Option{ID: message.Observe, Value: append([]byte{}, outerObs...)})
	}
	return message.Message{
		Token: m.Token, Type: m.Type, MessageID: m.MessageID,
		Code: code, Options: sortOptions(opts), Payload: payload,
	}, nil
}

// checkFreshResponse applies response replay protection after the tag
// verified: responses with their own Partial IV must increase (the
// Notification Number of §7.4.1); a response reusing the request nonce is
// accepted once per request.
func (e *Exchange) checkFreshResponse(piv []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if piv == nil {
		if e.pivlessUsed {
			return ErrUnexpectedPIVless
		}
		e.pivlessUsed = true
		return nil
	}
	seq := decodeUint(piv)
	if e.notifSeen && seq <= e.notifNumber {
		return fmt.Errorf("%w: response sequence number %d not above %d", ErrReplay, seq, e.notifNumber)
	}
	e.notifSeen, e.notifNumber = true, seq
	return nil
}

func sortOptions(o message.Options) message.Options {
	out := append(message.Options(nil), o...)
	for i := 1; i < len(out); i++ { // insertion sort: stable, tiny inputs
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ErrorResponseCode maps an unprotect error to the unprotected error response
// of RFC 8613 §8.2 (code and diagnostic payload). ok is false for errors that
// are not the peer's fault.
func ErrorResponseCode(err error) (code codes.Code, diagnostic string, ok bool) {
	switch {
	case errors.Is(err, ErrMalformedOption), errors.Is(err, ErrDuplicateOption):
		return codes.BadOption, "Failed to decode COSE", true
	case errors.Is(err, ErrContextNotFound):
		return codes.Unauthorized, "Security context not found", true
	case errors.Is(err, ErrReplay):
		return codes.Unauthorized, "Replay detected", true
	case errors.Is(err, ErrDecrypt), errors.Is(err, ErrMalformedInner), errors.Is(err, ErrNotRequest):
		return codes.BadRequest, "Decryption failed", true
	}
	return codes.InternalServerError, "", false
}
