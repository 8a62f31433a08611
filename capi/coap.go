package main

/*
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

// Mirrors of pqc_coap_options, pqc_coap_request and pqc_coap_response of
// pqc_iiot.h (which cannot be included here; see mqtt.go). c_api_test.c
// checks the option size against pqc_coap_options_size.
typedef struct {
	uint32_t struct_size;
	uint32_t mode;
	uint32_t flags;
	uint32_t timeout_ms;
	const char *peer;
	const char *acl;
	const char *dtls_psk_identity;
	const uint8_t *dtls_psk;
	size_t dtls_psk_len;
	uint32_t ack_timeout_ms;
	uint32_t max_retransmit;
	const char *dtls_cert_file;
	const char *dtls_key_file;
	const char *dtls_ca_file;
	const char *dtls_server_name;
} capi_coap_options;

typedef struct {
	uint32_t method;
	int32_t content_format;
	const char *path;
	const char *query;
	const char *sender;
	const uint8_t *payload;
	size_t payload_len;
	uint32_t observe;
	uint32_t reserved;
} capi_coap_request;

typedef struct {
	uint32_t code;
	int32_t content_format;
	uint8_t *payload;
	size_t payload_cap;
	size_t payload_len;
} capi_coap_response;

typedef void (*capi_coap_handler)(void *user, const capi_coap_request *req,
                                  capi_coap_response *resp);

// Set while a resource handler runs on this thread: calls that wait for
// running handlers refuse instead of waiting for themselves.
static __thread int capi_in_coap_handler;

static void capi_call_coap_handler(capi_coap_handler cb, void *user,
                                   const capi_coap_request *req,
                                   capi_coap_response *resp) {
	capi_in_coap_handler = 1;
	cb(user, req, resp);
	capi_in_coap_handler = 0;
}

static int capi_coap_in_handler(void) { return capi_in_coap_handler; }
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/pqc-iiot/pqc-iiot/core/coap"
	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Values of include/pqc_iiot.h's CoAP section.
const (
	coapModeSession = 0
	coapModeSigned  = 1
	coapModeOSCORE  = 2
	coapModePlain   = 3

	coapFlagCertGrants = 1

	// PQC_COAP_MAX_PAYLOAD: core/coap's default MaxPayload.
	coapMaxPayload = 64 << 10
	// PQC_COAP_URI_MAX_BYTES bounds a path or a query given to or taken
	// from the library, terminator included.
	coapURIMax = 1024
	// Requests waiting in a server's polling queue; more get 5.03.
	coapQueueSize = 64
	// Notifications waiting in an observation's queue; the oldest is
	// dropped first, since an observer wants the newest state.
	coapObserveQueue = 64
	// How long a request waits for pqc_coap_server_respond by default:
	// below go-coap's ACK_TIMEOUT of 2 s, so an unanswered request gets
	// its 5.03 before the client retransmits.
	coapDefaultAnswerWait = 1500 * time.Millisecond
)

var (
	errCoapNoRequest = errors.New("no such pending request (answered, expired or never received)")
	errCoapState     = errors.New("wrong state for this call")
)

// coapSentinels are checked before the shared table, which does not know
// the transport's errors.
var coapSentinels = []struct {
	err    error
	status C.int
}{
	{errWrongThread, statusState},
	{errAlreadyConnected, statusState},
	{errCoapState, statusState},
	{errCoapNoRequest, statusState},
	{coap.ErrConfig, statusInvalidArgument},
	{coap.ErrTooLarge, statusInvalidArgument},
	{coap.ErrReplay, statusReplay},
	{coap.ErrAuth, statusVerify},
	{coap.ErrMalformed, statusVerify},
	{coap.ErrBinding, statusVerify},
	{coap.ErrForbidden, statusPolicy},
	{coap.ErrUnknownPeer, statusUntrusted},
	{coap.ErrClosed, statusClosed},
	{coap.ErrNoSession, statusState},
	{coap.ErrUnsupported, statusUnsupported},
	{context.DeadlineExceeded, statusTimeout},
	{context.Canceled, statusTimeout},
}

// coapFail maps a CoAP error; what nobody recognises is the network.
func coapFail(err error) C.int {
	setLastError(err.Error())
	for _, s := range coapSentinels {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	if st := statusOf(err); st != statusInternal {
		return st
	}
	return statusIO
}

// ---- Options --------------------------------------------------------------

//export pqc_coap_options_size
func pqc_coap_options_size() C.size_t { return C.size_t(unsafe.Sizeof(C.capi_coap_options{})) }

// coapOptions reads the caller's options; NULL means all defaults.
func coapOptions(copts *C.capi_coap_options) (C.capi_coap_options, error) {
	var o C.capi_coap_options
	if copts == nil {
		return o, nil
	}
	if size := uint64(copts.struct_size); size != uint64(unsafe.Sizeof(o)) {
		return o, argError(fmt.Sprintf("pqc_coap_options.struct_size is %d, this library knows %d", size, unsafe.Sizeof(o)))
	}
	return *copts, nil
}

// coapConfig turns options into a core/coap configuration; the identity
// part is filled in by the caller.
func coapConfig(o C.capi_coap_options, server bool) (coap.Config, error) {
	var cfg coap.Config
	switch o.mode {
	case coapModeSession:
		cfg.Mode = coap.ModeSession
	case coapModeSigned:
		cfg.Mode = coap.ModeSigned
	case coapModeOSCORE:
		cfg.Mode = coap.ModeOSCORE
	case coapModePlain:
		cfg.Mode = coap.ModePlain
	default:
		return cfg, argError(fmt.Sprintf("CoAP mode %d", uint32(o.mode)))
	}
	if o.flags&^coapFlagCertGrants != 0 {
		return cfg, argError(fmt.Sprintf("unknown CoAP flags %#x", uint32(o.flags)))
	}
	var err error
	if o.peer != nil {
		if cfg.Peer, err = boundedString(o.peer, 128, "peer"); err != nil {
			return cfg, err
		}
	}
	if server {
		if cfg.ACL, err = coapACL(o); err != nil {
			return cfg, err
		}
	} else if o.acl != nil || o.flags&coapFlagCertGrants != 0 {
		return cfg, argError("acl and PQC_COAP_CERT_GRANTS are server options")
	}
	if cfg.DTLS, err = coapDTLS(o, server); err != nil {
		return cfg, err
	}
	// On a server timeout_ms is how long a queued request waits for its
	// answer, not core/coap's Timeout, which also bounds block-wise
	// transfers and keeps its default there.
	if !server {
		cfg.Timeout = time.Duration(o.timeout_ms) * time.Millisecond
	}
	cfg.AckTimeout = time.Duration(o.ack_timeout_ms) * time.Millisecond
	cfg.MaxRetransmit = uint32(o.max_retransmit)
	return cfg, nil
}

// coapDTLS configures DTLS with a pre-shared key or X.509 certificates;
// neither means plain UDP.
func coapDTLS(o C.capi_coap_options, server bool) (*coap.DTLS, error) {
	psk := o.dtls_psk_len != 0 || o.dtls_psk_identity != nil
	certs := o.dtls_cert_file != nil || o.dtls_key_file != nil || o.dtls_ca_file != nil || o.dtls_server_name != nil
	switch {
	case psk && certs:
		return nil, argError("DTLS takes a pre-shared key or certificates, not both")
	case certs:
		return coapDTLSCerts(o, server)
	case !psk:
		return nil, nil
	}
	return coapDTLSPSK(o, server)
}

// coapDTLSPSK: a client offers the identity and key, a server accepts
// exactly that identity with that key.
func coapDTLSPSK(o C.capi_coap_options, server bool) (*coap.DTLS, error) {
	if o.dtls_psk_len == 0 || o.dtls_psk_identity == nil {
		return nil, argError("DTLS needs both dtls_psk_identity and dtls_psk")
	}
	ident, err := boundedString(o.dtls_psk_identity, 128, "DTLS PSK identity")
	if err != nil {
		return nil, err
	}
	psk, err := input(o.dtls_psk, o.dtls_psk_len, "DTLS PSK")
	if err != nil {
		return nil, err
	}
	if !server {
		return &coap.DTLS{PSKIdentity: ident, PSK: psk}, nil
	}
	return &coap.DTLS{PSKLookup: func(id string) ([]byte, error) {
		if id != ident {
			return nil, fmt.Errorf("unknown PSK identity %q", id)
		}
		return psk, nil
	}}, nil
}

// coapDTLSCerts reads PEM files: the own chain and key (a server needs
// them), and the CA bundle that verifies the peer (a client's server; on
// a server it makes client certificates mandatory).
func coapDTLSCerts(o C.capi_coap_options, server bool) (*coap.DTLS, error) {
	paths, err := pathOptions("DTLS certificate option", o.dtls_cert_file, o.dtls_key_file, o.dtls_ca_file, o.dtls_server_name)
	if err != nil {
		return nil, err
	}
	certFile, keyFile, caFile, serverName := paths[0], paths[1], paths[2], paths[3]
	d := &coap.DTLS{ServerName: serverName}
	c, ok, err := loadKeyPair(certFile, keyFile, "dtls_cert_file", "dtls_key_file")
	if err != nil {
		return nil, err
	}
	if ok {
		d.Certificate = &c
	} else if server {
		return nil, argError("a DTLS server needs dtls_cert_file and dtls_key_file")
	}
	if caFile != "" {
		pool, err := loadCAPool(caFile, "dtls_ca_file")
		if err != nil {
			return nil, err
		}
		if server {
			d.ClientCAs = pool
		} else {
			d.RootCAs = pool
		}
	} else if !server {
		return nil, argError("a DTLS client needs dtls_ca_file to verify the server")
	}
	return d, nil
}

var coapMethods = map[string]codes.Code{
	"GET": codes.GET, "POST": codes.POST, "PUT": codes.PUT, "DELETE": codes.DELETE,
	"FETCH": codes.FETCH, "PATCH": codes.PATCH, "IPATCH": codes.IPATCH,
}

// coapACL parses rules "subject methods path" separated by ';' or
// newlines. subject: a device id (or DTLS identity), "*" for every
// authenticated sender, or "role:NAME"; methods: "GET,PUT" or "*".
func coapACL(o C.capi_coap_options) (*coap.ACL, error) {
	text, err := optionalLong(o.acl, "acl")
	if err != nil {
		return nil, err
	}
	grants := o.flags&coapFlagCertGrants != 0
	if strings.TrimSpace(text) == "" && !grants {
		return nil, nil
	}
	acl := &coap.ACL{Identities: map[string][]coap.Rule{}, Roles: map[string][]coap.Rule{}, CertificateGrants: grants}
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == ';' || r == '\n' }) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, argError(fmt.Sprintf("ACL rule %q: want \"subject methods path\"", line))
		}
		rule := coap.Rule{Path: f[2]}
		if f[1] != "*" {
			for _, m := range strings.Split(f[1], ",") {
				c, ok := coapMethods[strings.ToUpper(m)]
				if !ok {
					return nil, argError(fmt.Sprintf("ACL rule %q: unknown method %q", line, m))
				}
				rule.Methods = append(rule.Methods, c)
			}
		}
		if role, ok := strings.CutPrefix(f[0], "role:"); ok {
			acl.Roles[role] = append(acl.Roles[role], rule)
		} else {
			acl.Identities[f[0]] = append(acl.Identities[f[0]], rule)
		}
	}
	return acl, nil
}

// coapIdentity fills the identity part of cfg. Plain mode may run without
// an identity (handle 0).
func coapIdentity(idh C.uintptr_t, cfg *coap.Config) (*identityObject, C.int) {
	if idh == 0 && cfg.Mode == coap.ModePlain {
		return nil, statusOK
	}
	var obj *identityObject
	st := withIdentity(idh, func(io *identityObject) error {
		trust, err := io.trust(nil)
		if err != nil {
			return err
		}
		cfg.Device, cfg.Trust, cfg.Store = io.dev, trust, io.st
		obj = io
		return nil
	})
	return obj, st
}

// ---- Server ---------------------------------------------------------------

// coapResource is how one path is answered: a C callback, or the queue.
type coapResource struct {
	cb   C.capi_coap_handler
	user unsafe.Pointer
	// notice, set during pqc_coap_server_notify, is the representation
	// observers get (and a registration racing the notify).
	notice *coap.Response
}

type coapPending struct {
	id     uint64
	req    *coap.Request
	answer chan coap.Response
}

// coapServerObject is what a pqc_coap_server handle refers to.
type coapServerObject struct {
	id         *identityObject
	trust      *identity.Trust
	srv        *coap.Server
	answerWait time.Duration

	mu        sync.Mutex
	resources map[string]*coapResource
	pending   map[uint64]*coapPending
	nextID    uint64
	notifyMu  sync.Mutex

	// cbMu is held for reading by every running C handler, for writing by
	// whoever must know that none runs (replacing a handler, closing).
	cbMu sync.RWMutex

	queue    chan *coapPending
	recvTurn chan struct{}
	held     *coapPending // taken from queue, not yet delivered (buffer too small)

	done      chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	listening atomic.Bool
}

//export pqc_coap_server_new
func pqc_coap_server_new(idh C.uintptr_t, copts *C.capi_coap_options, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	o, err := coapOptions(copts)
	if err != nil {
		return fail(err)
	}
	cfg, err := coapConfig(o, true)
	if err != nil {
		return fail(err)
	}
	if cfg.Peer != "" {
		return fail(argError("peer is a client option"))
	}
	io, st := coapIdentity(idh, &cfg)
	if st != statusOK {
		return st
	}
	srv, err := coap.NewServer(cfg)
	if err != nil {
		return coapFail(err)
	}
	so := &coapServerObject{id: io, trust: cfg.Trust, srv: srv, answerWait: coapDefaultAnswerWait,
		resources: map[string]*coapResource{}, pending: map[uint64]*coapPending{},
		queue: make(chan *coapPending, coapQueueSize), recvTurn: make(chan struct{}, 1), done: make(chan struct{})}
	if o.timeout_ms > 0 {
		so.answerWait = time.Duration(o.timeout_ms) * time.Millisecond
	}
	*out = C.uintptr_t(handles.add(so))
	return statusOK
}

func (so *coapServerObject) liveState() (*atomic.Bool, *identityObject) { return &so.closed, so.id }
func (co *coapClientObject) liveState() (*atomic.Bool, *identityObject) { return &co.closed, co.id }

func withCoapServer(h C.uintptr_t, fn func(*coapServerObject) error) C.int {
	return withLive(h, "pqc_coap_server", fn, coapFail)
}

func coapPath(p *C.char) (string, error) {
	s, err := boundedString(p, coapURIMax-1, "path")
	if err != nil {
		return "", err
	}
	if s == "" || s[0] != '/' || strings.ContainsAny(s, "?#") {
		return "", argError(fmt.Sprintf("path %q: want an absolute path without query", s))
	}
	return s, nil
}

//export pqc_coap_server_listen
func pqc_coap_server_listen(h C.uintptr_t, addr *C.char) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error {
		a, err := optionalString(addr, "address", "127.0.0.1:5683")
		if err != nil {
			return err
		}
		if !so.listening.CompareAndSwap(false, true) {
			return fmt.Errorf("server already listens on %v: %w", so.srv.Addr(), errAlreadyConnected)
		}
		if _, err := so.srv.Listen(a); err != nil {
			so.listening.Store(false)
			return err
		}
		return nil
	})
}

//export pqc_coap_server_addr
func pqc_coap_server_addr(h C.uintptr_t, out *C.char, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error {
		a := so.srv.Addr()
		if a == nil {
			return fmt.Errorf("server does not listen yet: %w", errCoapState)
		}
		return writeString(out, capacity, outLen, a.String(), "address")
	})
}

// route registers the path with core/coap once; what answers it is looked
// up per request, so a handler can be replaced or removed.
func (so *coapServerObject) route(path string, r *coapResource) {
	so.mu.Lock()
	_, known := so.resources[path]
	so.resources[path] = r
	so.mu.Unlock()
	if !known {
		so.srv.Handle(path, func(req *coap.Request) coap.Response { return so.serve(path, req) })
	}
}

//export pqc_coap_server_set_handler
func pqc_coap_server_set_handler(h C.uintptr_t, path *C.char, cb C.capi_coap_handler, user unsafe.Pointer) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error {
		p, err := coapPath(path)
		if err != nil {
			return err
		}
		if C.capi_coap_in_handler() != 0 {
			return fmt.Errorf("pqc_coap_server_set_handler: %w", errWrongThread)
		}
		// Once this returns, the old callback and user pointer are unused.
		so.cbMu.Lock()
		defer so.cbMu.Unlock()
		if cb == nil {
			so.route(p, nil)
			return nil
		}
		so.route(p, &coapResource{cb: cb, user: user})
		return nil
	})
}

//export pqc_coap_server_handle
func pqc_coap_server_handle(h C.uintptr_t, path *C.char) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error {
		p, err := coapPath(path)
		if err != nil {
			return err
		}
		so.route(p, &coapResource{})
		return nil
	})
}

// serve answers one authenticated, access-checked request for path.
func (so *coapServerObject) serve(path string, req *coap.Request) coap.Response {
	so.mu.Lock()
	r := so.resources[path]
	var notice *coap.Response
	if r != nil && r.notice != nil && req.Observe {
		notice = r.notice
	}
	so.mu.Unlock()
	switch {
	case r == nil:
		return coap.Response{Code: codes.NotFound, ContentFormat: coap.NoContentFormat}
	case notice != nil:
		return *notice
	case r.cb != nil:
		return so.callHandler(path, req)
	}
	return so.enqueue(req)
}

func coapQuery(q []string) string { return strings.Join(q, "&") }

// callHandler runs the C handler with the request in C memory and a
// library buffer for the answer.
func (so *coapServerObject) callHandler(path string, req *coap.Request) (resp coap.Response) {
	resp = coap.Response{Code: codes.InternalServerError, ContentFormat: coap.NoContentFormat}
	defer recoverZero()
	so.cbMu.RLock()
	defer so.cbMu.RUnlock()
	so.mu.Lock()
	r := so.resources[path]
	so.mu.Unlock()
	if r == nil || r.cb == nil || so.closed.Load() {
		return coap.Response{Code: codes.NotFound, ContentFormat: coap.NoContentFormat}
	}
	cpath, cquery, csender := C.CString(req.Path), C.CString(coapQuery(req.Query)), C.CString(req.Sender)
	defer C.free(unsafe.Pointer(cpath))
	defer C.free(unsafe.Pointer(cquery))
	defer C.free(unsafe.Pointer(csender))
	var cpayload *C.uint8_t
	if len(req.Payload) > 0 {
		cpayload = (*C.uint8_t)(C.CBytes(req.Payload))
		defer freeWiped(unsafe.Pointer(cpayload), len(req.Payload))
	}
	obs := C.uint32_t(0)
	if req.Observe {
		obs = 1
	}
	creq := (*C.capi_coap_request)(C.calloc(1, C.size_t(unsafe.Sizeof(C.capi_coap_request{}))))
	defer C.free(unsafe.Pointer(creq))
	*creq = C.capi_coap_request{method: C.uint32_t(req.Method), content_format: C.int32_t(req.ContentFormat),
		path: cpath, query: cquery, sender: csender, payload: cpayload, payload_len: C.size_t(len(req.Payload)), observe: obs}
	cresp := (*C.capi_coap_response)(C.calloc(1, C.size_t(unsafe.Sizeof(C.capi_coap_response{}))))
	defer C.free(unsafe.Pointer(cresp))
	buf := C.malloc(coapMaxPayload)
	defer freeWiped(buf, coapMaxPayload)
	*cresp = C.capi_coap_response{code: C.uint32_t(codes.Content), content_format: -1,
		payload: (*C.uint8_t)(buf), payload_cap: coapMaxPayload}
	C.capi_call_coap_handler(r.cb, r.user, creq, cresp)
	code := codes.Code(cresp.code)
	if !coapResponseCode(uint32(cresp.code)) || uint64(cresp.payload_len) > coapMaxPayload || cresp.content_format < -1 || cresp.content_format > 65535 {
		return resp
	}
	return coap.Response{Code: code, ContentFormat: int(cresp.content_format),
		Payload: C.GoBytes(buf, C.int(cresp.payload_len))}
}

func freeWiped(p unsafe.Pointer, n int) {
	clear(unsafe.Slice((*byte)(p), n))
	C.free(p)
}

// coapResponseCode accepts the success, client error and server error
// classes (2.xx, 4.xx, 5.xx).
func coapResponseCode(c uint32) bool {
	class := c >> 5
	return c <= 0xff && (class == 2 || class == 4 || class == 5)
}

// enqueue hands a request to pqc_coap_server_recv and waits for its
// answer; none in time (or a full queue, or close) is 5.03.
func (so *coapServerObject) enqueue(req *coap.Request) coap.Response {
	unavailable := coap.Response{Code: codes.ServiceUnavailable, ContentFormat: coap.NoContentFormat}
	so.mu.Lock()
	so.nextID++
	p := &coapPending{id: so.nextID, req: req, answer: make(chan coap.Response, 1)}
	so.pending[p.id] = p
	so.mu.Unlock()
	defer func() {
		so.mu.Lock()
		delete(so.pending, p.id)
		so.mu.Unlock()
	}()
	select {
	case so.queue <- p:
	default:
		return unavailable
	}
	t := time.NewTimer(so.answerWait)
	defer t.Stop()
	select {
	case r := <-p.answer:
		return r
	case <-t.C:
	case <-so.done:
	}
	return unavailable
}

func (so *coapServerObject) take(ctx context.Context) error {
	select {
	case so.recvTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next returns the held request or waits for one whose asker still waits.
func (so *coapServerObject) next(ctx context.Context) (*coapPending, error) {
	for so.held == nil {
		select {
		case p := <-so.queue:
			so.mu.Lock()
			_, live := so.pending[p.id]
			so.mu.Unlock()
			if live {
				so.held = p
			}
		case <-so.done:
			return nil, fmt.Errorf("pqc_coap_server: %w", errClosed)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return so.held, nil
}

//export pqc_coap_server_recv
func pqc_coap_server_recv(h C.uintptr_t, timeoutMs C.int, requestID *C.uint64_t, method *C.uint32_t,
	path *C.char, pathCap C.size_t, query *C.char, queryCap C.size_t, sender *C.char, senderCap C.size_t,
	contentFormat *C.int, payload *C.uint8_t, capacity C.size_t, payloadLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error {
		if requestID == nil || method == nil || contentFormat == nil || payloadLen == nil {
			return argError("request_id, method, content_format or payload_len is NULL")
		}
		*requestID, *payloadLen = 0, 0
		ctx, cancel := msTimeout(timeoutMs, 0)
		defer cancel()
		if err := so.take(ctx); err != nil {
			return err
		}
		defer func() { <-so.recvTurn }()
		p, err := so.next(ctx)
		if err != nil {
			return err
		}
		r := p.req
		q := coapQuery(r.Query)
		// Every size is checked before anything is written, so a retry
		// with larger buffers gets the same request.
		*payloadLen = C.size_t(len(r.Payload))
		for _, b := range []struct {
			have C.size_t
			need int
			what string
		}{{capacity, len(r.Payload), "payload"}, {pathCap, len(r.Path) + 1, "path"}, {queryCap, len(q) + 1, "query"}, {senderCap, len(r.Sender) + 1, "sender"}} {
			if uint64(b.have) < uint64(b.need) {
				return fmt.Errorf("%s buffer is %d bytes, need %d: %w", b.what, uint64(b.have), b.need, errBufferTooSmall)
			}
		}
		if path == nil || query == nil || sender == nil || (payload == nil && len(r.Payload) > 0) {
			return argError("path, query, sender or payload buffer is NULL")
		}
		copyCString(path, r.Path)
		copyCString(query, q)
		copyCString(sender, r.Sender)
		if len(r.Payload) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(payload)), len(r.Payload)), r.Payload)
		}
		*requestID, *method, *contentFormat = C.uint64_t(p.id), C.uint32_t(r.Method), C.int(r.ContentFormat)
		so.held = nil
		return nil
	})
}

//export pqc_coap_server_respond
func pqc_coap_server_respond(h C.uintptr_t, requestID C.uint64_t, code C.uint32_t, contentFormat C.int, payload *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error {
		resp, err := coapAnswer(code, contentFormat, payload, n)
		if err != nil {
			return err
		}
		so.mu.Lock()
		p, ok := so.pending[uint64(requestID)]
		if ok {
			delete(so.pending, p.id)
		}
		so.mu.Unlock()
		if !ok {
			return fmt.Errorf("request %d: %w", uint64(requestID), errCoapNoRequest)
		}
		p.answer <- resp
		return nil
	})
}

// coapAnswer validates and copies a response given by the caller.
func coapAnswer(code C.uint32_t, cf C.int, payload *C.uint8_t, n C.size_t) (coap.Response, error) {
	if !coapResponseCode(uint32(code)) {
		return coap.Response{}, argError(fmt.Sprintf("code %d.%02d is not a response code", uint32(code)>>5, uint32(code)&31))
	}
	if cf < -1 || cf > 65535 {
		return coap.Response{}, argError(fmt.Sprintf("content format %d", int(cf)))
	}
	if n > coapMaxPayload {
		return coap.Response{}, fmt.Errorf("%d-byte payload: %w", uint64(n), coap.ErrTooLarge)
	}
	data, err := input(payload, n, "payload")
	if err != nil {
		return coap.Response{}, err
	}
	return coap.Response{Code: codes.Code(code), ContentFormat: int(cf), Payload: data}, nil
}

//export pqc_coap_server_notify
func pqc_coap_server_notify(h C.uintptr_t, path *C.char, contentFormat C.int, payload *C.uint8_t, n C.size_t, sent *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error {
		if sent == nil {
			return argError("sent is NULL")
		}
		*sent = 0
		p, err := coapPath(path)
		if err != nil {
			return err
		}
		resp, err := coapAnswer(C.uint32_t(codes.Content), contentFormat, payload, n)
		if err != nil {
			return err
		}
		so.notifyMu.Lock()
		defer so.notifyMu.Unlock()
		so.mu.Lock()
		r := so.resources[p]
		if r == nil {
			so.mu.Unlock()
			return fmt.Errorf("no resource at %s: %w", p, errCoapState)
		}
		r.notice = &resp
		so.mu.Unlock()
		defer func() {
			so.mu.Lock()
			r.notice = nil
			so.mu.Unlock()
		}()
		*sent = C.size_t(so.srv.Notify(p))
		return nil
	})
}

func (so *coapServerObject) shutdown() {
	so.closeOnce.Do(func() {
		so.closed.Store(true)
		close(so.done)
		so.srv.Close()
		// Wait for running handlers: after this the callbacks are unused.
		so.cbMu.Lock()
		so.cbMu.Unlock() //nolint:staticcheck // an empty section is the wait
	})
}

//export pqc_coap_server_close
func pqc_coap_server_close(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return closeObject[*coapServerObject](h, "pqc_coap_server", "pqc_coap_server_close", C.capi_coap_in_handler() != 0, coapFail)
}

//export pqc_coap_server_free
func pqc_coap_server_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	freeObject[*coapServerObject](h, "pqc_coap_server_free", C.capi_coap_in_handler() != 0, "a handler; the server was not freed")
}

// addPeer verifies a peer's certificate chain into the identity's trust
// state, which the identity's sessions, MQTT clients and CoAP endpoints
// share.
func addPeer(trust *identity.Trust, chain *C.uint8_t, n C.size_t) error {
	if trust == nil {
		return fmt.Errorf("plain mode has no identity to record peers in: %w", errCoapState)
	}
	c, err := input(chain, n, "chain")
	if err != nil {
		return err
	}
	_, err = trust.AddPeer(c, time.Now())
	return err
}

//export pqc_coap_server_add_peer
func pqc_coap_server_add_peer(h C.uintptr_t, chain *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapServer(h, func(so *coapServerObject) error { return addPeer(so.trust, chain, n) })
}

// ---- Client ---------------------------------------------------------------

type coapClientObject struct {
	id      *identityObject
	trust   *identity.Trust
	cl      *coap.Client
	timeout time.Duration

	mu     sync.Mutex
	obs    map[*coapObserveObject]struct{}
	closed atomic.Bool
	once   sync.Once
}

//export pqc_coap_client_new
func pqc_coap_client_new(idh C.uintptr_t, addr *C.char, copts *C.capi_coap_options, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	a, err := boundedString(addr, 1024, "address")
	if err != nil {
		return fail(err)
	}
	o, err := coapOptions(copts)
	if err != nil {
		return fail(err)
	}
	cfg, err := coapConfig(o, false)
	if err != nil {
		return fail(err)
	}
	io, st := coapIdentity(idh, &cfg)
	if st != statusOK {
		return st
	}
	cl, err := coap.Dial(a, cfg)
	if err != nil {
		return coapFail(err)
	}
	co := &coapClientObject{id: io, trust: cfg.Trust, cl: cl, timeout: cfg.Timeout, obs: map[*coapObserveObject]struct{}{}}
	if co.timeout <= 0 {
		co.timeout = 30 * time.Second
	}
	*out = C.uintptr_t(handles.add(co))
	return statusOK
}

func withCoapClient(h C.uintptr_t, fn func(*coapClientObject) error) C.int {
	return withLive(h, "pqc_coap_client", fn, coapFail)
}

// coapTarget reads "/path" or "/path?query".
func coapTarget(p *C.char) (string, error) {
	s, err := boundedString(p, 2*coapURIMax, "path")
	if err != nil {
		return "", err
	}
	if s == "" || s[0] != '/' {
		return "", argError(fmt.Sprintf("path %q: want an absolute path", s))
	}
	return s, nil
}

// coapResult delivers a response. The code and content format are always
// set, so a caller sees 4.03 even when its buffer was too small.
func coapResult(r *coap.Response, code *C.uint32_t, cf *C.int, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sender *C.char, senderCap C.size_t) error {
	*code = C.uint32_t(r.Code)
	if cf != nil {
		*cf = C.int(r.ContentFormat)
	}
	*outLen = C.size_t(len(r.Payload))
	if uint64(capacity) < uint64(len(r.Payload)) {
		return fmt.Errorf("response buffer is %d bytes, need %d: %w", uint64(capacity), len(r.Payload), errBufferTooSmall)
	}
	if sender != nil {
		if uint64(senderCap) < uint64(len(r.Sender)+1) {
			return fmt.Errorf("sender buffer is %d bytes, need %d: %w", uint64(senderCap), len(r.Sender)+1, errBufferTooSmall)
		}
		copyCString(sender, r.Sender)
	}
	if len(r.Payload) > 0 {
		if out == nil {
			return argError("response buffer is NULL")
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), len(r.Payload)), r.Payload)
	}
	return nil
}

var coapRequestMethods = map[C.uint32_t]codes.Code{1: codes.GET, 2: codes.POST, 3: codes.PUT, 4: codes.DELETE, 5: codes.FETCH, 6: codes.PATCH, 7: codes.IPATCH}

//export pqc_coap_client_request
func pqc_coap_client_request(h C.uintptr_t, method C.uint32_t, path *C.char, contentFormat C.int,
	payload *C.uint8_t, n C.size_t, timeoutMs C.int, code *C.uint32_t, respCF *C.int,
	out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sender *C.char, senderCap C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapClient(h, func(co *coapClientObject) error {
		if code == nil || outLen == nil {
			return argError("code or out_len is NULL")
		}
		*code, *outLen = 0, 0
		m, ok := coapRequestMethods[method]
		if !ok {
			return argError(fmt.Sprintf("method %d", uint32(method)))
		}
		target, err := coapTarget(path)
		if err != nil {
			return err
		}
		if contentFormat < -1 || contentFormat > 65535 {
			return argError(fmt.Sprintf("content format %d", int(contentFormat)))
		}
		if n > coapMaxPayload {
			return fmt.Errorf("%d-byte payload: %w", uint64(n), coap.ErrTooLarge)
		}
		data, err := input(payload, n, "payload")
		if err != nil {
			return err
		}
		ctx, cancel := msTimeout(timeoutMs, co.timeout)
		defer cancel()
		resp, err := co.cl.Do(ctx, m, target, int(contentFormat), data)
		if err != nil {
			// An unprotected refusal is an answer, not a failure: the
			// caller sees its code, with no authenticated sender.
			c, ok := coap.Code(err)
			if !ok {
				return err
			}
			resp = &coap.Response{Code: c, ContentFormat: coap.NoContentFormat}
		}
		return coapResult(resp, code, respCF, out, capacity, outLen, sender, senderCap)
	})
}

func (co *coapClientObject) shutdown() {
	co.once.Do(func() {
		co.closed.Store(true)
		co.mu.Lock()
		obs := co.obs
		co.obs = nil
		co.mu.Unlock()
		for o := range obs {
			o.stop()
		}
		co.cl.Close()
	})
}

//export pqc_coap_client_close
func pqc_coap_client_close(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return closeObject[*coapClientObject](h, "pqc_coap_client", "pqc_coap_client_close", false, coapFail)
}

//export pqc_coap_client_free
func pqc_coap_client_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	freeObject[*coapClientObject](h, "pqc_coap_client_free", false, "")
}

//export pqc_coap_client_add_peer
func pqc_coap_client_add_peer(h C.uintptr_t, chain *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCoapClient(h, func(co *coapClientObject) error { return addPeer(co.trust, chain, n) })
}

// ---- Observe --------------------------------------------------------------

type coapObserveObject struct {
	client *coapClientObject
	obs    *coap.Observation

	mu      sync.Mutex
	queue   []*coap.Response
	wake    chan struct{} // one slot: "the queue changed"
	done    chan struct{}
	once    sync.Once
	dropped uint64
}

func (oo *coapObserveObject) push(r *coap.Response) {
	oo.mu.Lock()
	if len(oo.queue) >= coapObserveQueue {
		oo.queue = oo.queue[1:]
		oo.dropped++
	}
	oo.queue = append(oo.queue, r)
	oo.mu.Unlock()
	select {
	case oo.wake <- struct{}{}:
	default:
	}
}

func (oo *coapObserveObject) stop() {
	oo.once.Do(func() { close(oo.done) })
}

//export pqc_coap_client_observe
func pqc_coap_client_observe(h C.uintptr_t, path *C.char, timeoutMs C.int, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	return withCoapClient(h, func(co *coapClientObject) error {
		target, err := coapTarget(path)
		if err != nil {
			return err
		}
		oo := &coapObserveObject{client: co, wake: make(chan struct{}, 1), done: make(chan struct{})}
		ctx, cancel := msTimeout(timeoutMs, co.timeout)
		defer cancel()
		obs, first, err := co.cl.Observe(ctx, target, func(r *coap.Response) { oo.push(r) })
		if err != nil {
			c, ok := coap.Code(err)
			if !ok {
				return err
			}
			first = &coap.Response{Code: c, ContentFormat: coap.NoContentFormat}
		}
		oo.obs = obs
		// The first answer leads the queue, ahead of any notification the
		// callback may already have pushed.
		oo.mu.Lock()
		oo.queue = append([]*coap.Response{first}, oo.queue...)
		oo.mu.Unlock()
		co.mu.Lock()
		if co.obs == nil {
			co.mu.Unlock()
			oo.cancel()
			return fmt.Errorf("pqc_coap_client closed during observe: %w", errClosed)
		}
		co.obs[oo] = struct{}{}
		co.mu.Unlock()
		*out = C.uintptr_t(handles.add(oo))
		return nil
	})
}

func withObservation(h C.uintptr_t, fn func(*coapObserveObject) error) C.int {
	oo, ok := lookup[*coapObserveObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_coap_observation", h))
	}
	if err := fn(oo); err != nil {
		return coapFail(err)
	}
	return statusOK
}

// next returns the oldest queued response without taking it.
func (oo *coapObserveObject) next(ctx context.Context) (*coap.Response, error) {
	for {
		oo.mu.Lock()
		if len(oo.queue) > 0 {
			r := oo.queue[0]
			oo.mu.Unlock()
			return r, nil
		}
		oo.mu.Unlock()
		select {
		case <-oo.wake:
		case <-oo.done:
			return nil, fmt.Errorf("observation cancelled or its client closed: %w", errClosed)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

//export pqc_coap_observe_recv
func pqc_coap_observe_recv(h C.uintptr_t, timeoutMs C.int, code *C.uint32_t, cf *C.int, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sender *C.char, senderCap C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withObservation(h, func(oo *coapObserveObject) error {
		if code == nil || outLen == nil {
			return argError("code or out_len is NULL")
		}
		*code, *outLen = 0, 0
		ctx, cancel := msTimeout(timeoutMs, 0)
		defer cancel()
		r, err := oo.next(ctx)
		if err != nil {
			return err
		}
		if err := coapResult(r, code, cf, out, capacity, outLen, sender, senderCap); err != nil {
			return err
		}
		oo.mu.Lock()
		if len(oo.queue) > 0 && oo.queue[0] == r {
			oo.queue = oo.queue[1:]
		}
		oo.mu.Unlock()
		return nil
	})
}

// cancel deregisters at the server (best effort: the server also forgets
// observers whose notifications fail) and ends waiting receivers.
func (oo *coapObserveObject) cancel() {
	if oo.obs != nil && !oo.client.closed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), oo.client.timeout)
		_ = oo.obs.Cancel(ctx)
		cancel()
	}
	oo.stop()
}

//export pqc_coap_observe_cancel
func pqc_coap_observe_cancel(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withObservation(h, func(oo *coapObserveObject) error {
		select {
		case <-oo.done:
			return fmt.Errorf("observation already ended: %w", errClosed)
		default:
		}
		oo.client.mu.Lock()
		if oo.client.obs != nil {
			delete(oo.client.obs, oo)
		}
		oo.client.mu.Unlock()
		oo.cancel()
		return nil
	})
}

//export pqc_coap_observe_free
func pqc_coap_observe_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	if oo, ok := release[*coapObserveObject](uintptr(h)); ok {
		oo.client.mu.Lock()
		_, live := oo.client.obs[oo]
		if live {
			delete(oo.client.obs, oo)
		}
		oo.client.mu.Unlock()
		if live {
			oo.cancel()
		}
		oo.stop()
	}
}
