package main

/*
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

// Mirrors of pqc_mqtt_options and pqc_mqtt_stats_t: pqc_iiot.h cannot be
// included here, its prototypes clash with cgo's for the exports.
// c_api_test.c checks that sizeof matches what the library reports.
typedef struct {
	uint32_t struct_size;
	uint32_t mode;
	const char *client_id;
	const char *username;
	const char *password;
	const char *recipients;
	uint32_t flags;
	uint32_t keepalive_seconds;
	uint32_t connect_timeout_ms;
	uint32_t queue_size;
	const char *tls_ca_file;
	const char *tls_cert_file;
	const char *tls_key_file;
	const char *tls_server_name;
} capi_mqtt_options;

typedef struct {
	uint32_t struct_size;
	uint32_t reserved;
	uint64_t delivered;
	uint64_t published;
	uint64_t publish_failed;
	uint64_t queue_full;
	uint64_t dropped_oversize;
	uint64_t dropped_bad_topic;
	uint64_t dropped_rate_limited;
	uint64_t dropped_unprotect;
	uint64_t dropped_not_for_me;
	uint64_t dropped_control;
	uint64_t accepted_announcements;
	uint64_t accepted_handshakes;
	uint64_t reconnects;
	uint64_t connection_lost;
} capi_mqtt_stats;

typedef void (*capi_mqtt_cb)(void *user, const char *topic, const char *sender,
                             const uint8_t *payload, size_t len);

// Set while the library runs a user callback on this thread, so that a
// call which would wait for that callback to return can refuse instead of
// deadlocking.
static __thread int capi_in_mqtt_callback;

static void capi_call_mqtt_cb(capi_mqtt_cb cb, void *user, const char *topic,
                              const char *sender, const uint8_t *payload,
                              size_t len) {
	capi_in_mqtt_callback = 1;
	cb(user, topic, sender, payload, len);
	capi_in_mqtt_callback = 0;
}

static int capi_mqtt_in_callback(void) { return capi_in_mqtt_callback; }
*/
import "C"

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// mqttObject is what a pqc_mqtt_client handle refers to.
type mqttObject struct {
	id    *identityObject
	cl    *mqtt.Client
	codec *mqtt.SessionCodec

	connectTimeout time.Duration
	connected      atomic.Bool
	closed         atomic.Bool
	closeOnce      sync.Once

	// recvTurn (a one-slot semaphore, so waiting for it honours a
	// timeout) serializes receivers, pqc_mqtt_recv callers and the
	// callback pump, around pending: the message a too-small buffer could
	// not take stays here for the next call instead of being lost.
	recvTurn chan struct{}
	pending  *mqtt.Message

	// cbMu guards the callback pump; stop ends it and done tells it ended.
	cbMu   sync.Mutex
	cbStop context.CancelFunc
	cbDone chan struct{}
}

type brokerObject struct {
	b *mqtt.EmbeddedBroker
}

const (
	mqttModeAuto     = 0
	mqttModeSealed   = 1
	mqttModeSessions = 2

	// PQC_MQTT_MAX_PAYLOAD: room for the largest sealed overhead within
	// the client's 64 KiB frame limit (a frame for many recipients may
	// still exceed it, which the client reports as too large).
	mqttMaxPayload = 48 << 10

	mqttFlagQoS0         = 1
	mqttFlagCleanSession = 2
	// Strings in options and filters may be long lists; bounded so a
	// missing terminator cannot make us scan far.
	mqttStringMax = 65536
)

// errWrongThread refuses calls that would wait for the callback they are
// made from.
var errWrongThread = errors.New("not allowed from inside the client's callback")

var errAlreadyConnected = errors.New("connect called twice")

// mqttSentinels are checked before the shared table: the transport's
// errors wrap codec and identity errors that would otherwise say less.
var mqttSentinels = []struct {
	err    error
	status C.int
}{
	{errWrongThread, statusState},
	{errAlreadyConnected, statusState},
	{mqtt.ErrClosed, statusClosed},
	{mqtt.ErrNotConnected, statusState},
	{mqtt.ErrBadTopic, statusInvalidArgument},
	{mqtt.ErrReservedTopic, statusInvalidArgument},
	{mqtt.ErrTooLarge, statusInvalidArgument},
	// Back-pressure: the broker is slow or unreachable and the bounded
	// queue of unacknowledged publishes is full. Retry later, like a
	// budget refusal.
	{mqtt.ErrQueueFull, statusRateLimited},
	// Nobody entitled to read the topic has announced keys yet: a state
	// that resolves when subscribers come online.
	{mqtt.ErrNoRecipients, statusState},
	{mqtt.ErrNoSession, statusTimeout},
	{mqtt.ErrNotPermitted, statusPolicy},
	{context.DeadlineExceeded, statusTimeout},
	{context.Canceled, statusTimeout},
}

// mqttFail maps a transport error. Errors nothing recognises are network
// failures (refused connection, broken pipe), not library bugs.
func mqttFail(err error) C.int {
	setLastError(err.Error())
	for _, s := range mqttSentinels {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	if st := statusOf(err); st != statusInternal {
		return st
	}
	return statusIO
}

// msTimeout turns a caller's timeout into a context: negative waits
// without limit, zero takes def (which may itself be zero: poll).
func msTimeout(ms C.int, def time.Duration) (context.Context, context.CancelFunc) {
	switch {
	case ms < 0:
		return context.WithCancel(context.Background())
	case ms == 0 && def == 0:
		// A poll: an already expired context would race a queued message
		// in the select that reads the queue and could report a timeout
		// with a message waiting. A live one lets the ready message win.
		return context.WithTimeout(context.Background(), time.Millisecond)
	case ms == 0:
		return context.WithTimeout(context.Background(), def)
	default:
		return context.WithTimeout(context.Background(), time.Duration(ms)*time.Millisecond)
	}
}

func optionalLong(p *C.char, what string) (string, error) {
	if p == nil {
		return "", nil
	}
	return boundedString(p, mqttStringMax, what)
}

// mqttOptionsSizeV1 is sizeof(pqc_mqtt_options) in the header before the
// TLS fields: everything up to queue_size, padded to pointer alignment.
var mqttOptionsSizeV1 = uint64(unsafe.Offsetof(C.capi_mqtt_options{}.tls_ca_file))

// mqttTLS builds the TLS configuration for a TLS broker URL from the tls_
// options: the CA bundle that verifies the broker (else the system's
// roots), an optional client certificate, the name to verify. TLS options
// with a plain URL are refused: the caller meant TLS and would not get it.
func mqttTLS(url string, o C.capi_mqtt_options) (*tls.Config, error) {
	paths, err := pathOptions("MQTT TLS option", o.tls_ca_file, o.tls_cert_file, o.tls_key_file, o.tls_server_name)
	if err != nil {
		return nil, err
	}
	caFile, certFile, keyFile, serverName := paths[0], paths[1], paths[2], paths[3]
	if !mqtt.IsTLSBroker(url) {
		if caFile != "" || certFile != "" || keyFile != "" || serverName != "" {
			scheme, _, _ := strings.Cut(url, "://")
			return nil, argError(fmt.Sprintf("tls_ options with a %s:// broker URL (TLS needs ssl://, tls://, mqtts:// or tcps://)", scheme))
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	c, ok, err := loadKeyPair(certFile, keyFile, "tls_cert_file", "tls_key_file")
	if err != nil {
		return nil, err
	}
	if ok {
		cfg.Certificates = []tls.Certificate{c}
	}
	if caFile != "" {
		if cfg.RootCAs, err = loadCAPool(caFile, "tls_ca_file"); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

//export pqc_mqtt_options_size
func pqc_mqtt_options_size() C.size_t { return C.size_t(unsafe.Sizeof(C.capi_mqtt_options{})) }

//export pqc_mqtt_stats_size
func pqc_mqtt_stats_size() C.size_t { return C.size_t(unsafe.Sizeof(C.capi_mqtt_stats{})) }

//export pqc_mqtt_new
func pqc_mqtt_new(idh C.uintptr_t, brokerURL *C.char, copts *C.capi_mqtt_options, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	url, err := boundedString(brokerURL, 4096, "broker URL")
	if err != nil {
		return fail(err)
	}
	var o C.capi_mqtt_options
	if copts != nil {
		size := uint64(copts.struct_size)
		// A larger struct is from a newer header: its extra fields would be
		// ignored silently, so refuse rather than misconfigure. The size
		// before the TLS fields is from the previous header: its fields
		// are a prefix of ours, and the rest stays zero.
		switch size {
		case uint64(unsafe.Sizeof(o)):
			o = *copts
		case mqttOptionsSizeV1:
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&o)), mqttOptionsSizeV1), unsafe.Slice((*byte)(unsafe.Pointer(copts)), mqttOptionsSizeV1))
		default:
			return fail(argError(fmt.Sprintf("pqc_mqtt_options.struct_size is %d, this library knows %d (and %d)", size, unsafe.Sizeof(o), mqttOptionsSizeV1)))
		}
	}
	opts := mqtt.Options{Broker: url}
	var mode mqtt.CodecMode
	switch o.mode {
	case mqttModeAuto:
		mode = mqtt.ModeAuto
	case mqttModeSealed:
		mode = mqtt.ModeSealed
	case mqttModeSessions:
		mode = mqtt.ModeSessions
	default:
		return fail(argError(fmt.Sprintf("MQTT mode %d", uint32(o.mode))))
	}
	if o.flags&^(mqttFlagQoS0|mqttFlagCleanSession) != 0 {
		return fail(argError(fmt.Sprintf("unknown MQTT flags %#x", uint32(o.flags))))
	}
	qos := byte(1)
	if o.flags&mqttFlagQoS0 != 0 {
		qos = 0
	}
	opts.QoS = &qos
	opts.CleanSession = o.flags&mqttFlagCleanSession != 0
	for _, s := range []struct {
		p    *C.char
		dst  *string
		what string
	}{{o.client_id, &opts.ClientID, "client id"}, {o.username, &opts.Username, "username"}, {o.password, &opts.Password, "password"}} {
		if *s.dst, err = optionalLong(s.p, s.what); err != nil {
			return fail(err)
		}
	}
	rcpts, err := optionalLong(o.recipients, "recipients")
	if err != nil {
		return fail(err)
	}
	opts.KeepAlive = time.Duration(o.keepalive_seconds) * time.Second
	opts.ConnectTimeout = time.Duration(o.connect_timeout_ms) * time.Millisecond
	opts.QueueSize = int(o.queue_size)
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.TLSConfig, err = mqttTLS(url, o); err != nil {
		return fail(err)
	}
	return withIdentity(idh, func(io *identityObject) error {
		trust, err := io.trust(nil)
		if err != nil {
			return err
		}
		co := mqtt.SessionCodecOptions{Device: io.dev, Trust: trust, Store: io.st, Mode: mode}
		if list := splitList(rcpts); len(list) > 0 {
			co.Recipients = func(string) []string { return list }
		}
		codec, err := mqtt.NewSessionCodec(co)
		if err != nil {
			return err
		}
		opts.Codec, opts.Device, opts.Trust = codec, io.dev, trust
		cl, err := mqtt.NewClient(opts)
		if err != nil {
			codec.Close()
			// Only the options can be wrong here: nothing is dialled yet.
			return fmt.Errorf("%w: %w", err, pqc.ErrInvalidArgument)
		}
		*out = C.uintptr_t(handles.add(&mqttObject{id: io, cl: cl, codec: codec, connectTimeout: opts.ConnectTimeout,
			recvTurn: make(chan struct{}, 1)}))
		return nil
	})
}

// withClient runs fn on a live, open client. The identity's lock is not
// held: MQTT calls block on the network and must not stall other users of
// the identity.
func withClient(h C.uintptr_t, fn func(*mqttObject) error) C.int {
	return withLive(h, "pqc_mqtt_client", fn, mqttFail)
}

func (mo *mqttObject) liveState() (*atomic.Bool, *identityObject) { return &mo.closed, mo.id }

//export pqc_mqtt_connect
func pqc_mqtt_connect(h C.uintptr_t, timeoutMs C.int) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withClient(h, func(mo *mqttObject) error {
		if mo.connected.Load() {
			return fmt.Errorf("already connected (the client reconnects by itself): %w", errAlreadyConnected)
		}
		ctx, cancel := msTimeout(timeoutMs, mo.connectTimeout)
		defer cancel()
		if err := mo.cl.Connect(ctx); err != nil {
			return err
		}
		mo.connected.Store(true)
		return nil
	})
}

//export pqc_mqtt_publish
func pqc_mqtt_publish(h C.uintptr_t, topic *C.char, payload *C.uint8_t, n C.size_t, timeoutMs C.int) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withClient(h, func(mo *mqttObject) error {
		t, err := boundedString(topic, mqtt.MaxTopicLength+1, "topic")
		if err != nil {
			return err
		}
		if n > mqttMaxPayload {
			return fmt.Errorf("%d bytes: %w", uint64(n), mqtt.ErrTooLarge)
		}
		data, err := input(payload, n, "payload")
		if err != nil {
			return err
		}
		// Checked here because the client protects before it looks at the
		// connection, which would spend a sequence number for nothing.
		if !mo.connected.Load() {
			return mqtt.ErrNotConnected
		}
		ctx, cancel := msTimeout(timeoutMs, mo.connectTimeout)
		defer cancel()
		return mo.cl.Publish(ctx, t, data)
	})
}

//export pqc_mqtt_subscribe
func pqc_mqtt_subscribe(h C.uintptr_t, filter *C.char) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withClient(h, func(mo *mqttObject) error {
		f, err := boundedString(filter, mqtt.MaxTopicLength+1, "filter")
		if err != nil {
			return err
		}
		// A nil handler routes messages to the client's Recv queue, which
		// both pqc_mqtt_recv and the callback pump read.
		return mo.cl.Subscribe(f, nil)
	})
}

// take waits for the receiver's turn; release gives it back.
func (mo *mqttObject) take(ctx context.Context) error {
	select {
	case mo.recvTurn <- struct{}{}:
		return nil
	default:
	}
	select {
	case mo.recvTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (mo *mqttObject) release() { <-mo.recvTurn }

// next returns the pending message or waits for one; callers hold the
// receiver's turn.
func (mo *mqttObject) next(ctx context.Context) (*mqtt.Message, error) {
	if mo.pending == nil {
		m, err := mo.cl.Recv(ctx)
		if err != nil {
			return nil, err
		}
		mo.pending = &m
	}
	return mo.pending, nil
}

//export pqc_mqtt_recv
func pqc_mqtt_recv(h C.uintptr_t, timeoutMs C.int, topic *C.char, topicCap C.size_t, sender *C.char, senderCap C.size_t, payload *C.uint8_t, capacity C.size_t, payloadLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withClient(h, func(mo *mqttObject) error {
		if payloadLen == nil {
			return argError("payload_len is NULL")
		}
		*payloadLen = 0
		ctx, cancel := msTimeout(timeoutMs, 0)
		defer cancel()
		// While a callback is set its pump holds the turn, so this call
		// times out like one that found no message.
		if err := mo.take(ctx); err != nil {
			return err
		}
		defer mo.release()
		m, err := mo.next(ctx)
		if err != nil {
			return err
		}
		// Every size is checked before anything is written or the message
		// is taken, so a retry with larger buffers gets the same message.
		*payloadLen = C.size_t(len(m.Payload))
		if uint64(capacity) < uint64(len(m.Payload)) {
			return fmt.Errorf("payload buffer is %d bytes, need %d: %w", uint64(capacity), len(m.Payload), errBufferTooSmall)
		}
		if uint64(topicCap) < uint64(len(m.Topic)+1) {
			return fmt.Errorf("topic buffer is %d bytes, need %d: %w", uint64(topicCap), len(m.Topic)+1, errBufferTooSmall)
		}
		if uint64(senderCap) < uint64(len(m.Sender)+1) {
			return fmt.Errorf("sender buffer is %d bytes, need %d (PQC_DEVICE_ID_MAX_BYTES always fits): %w", uint64(senderCap), len(m.Sender)+1, errBufferTooSmall)
		}
		if topic == nil || sender == nil || (payload == nil && len(m.Payload) > 0) {
			return argError("topic, sender or payload buffer is NULL")
		}
		copyCString(topic, m.Topic)
		copyCString(sender, m.Sender)
		if len(m.Payload) > 0 {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(payload)), len(m.Payload)), m.Payload)
		}
		clear(m.Payload)
		mo.pending = nil
		return nil
	})
}

func copyCString(dst *C.char, s string) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(dst)), len(s)+1)
	copy(b, s)
	b[len(s)] = 0
}

//export pqc_mqtt_set_callback
func pqc_mqtt_set_callback(h C.uintptr_t, cb C.capi_mqtt_cb, user unsafe.Pointer) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withClient(h, func(mo *mqttObject) error {
		if C.capi_mqtt_in_callback() != 0 {
			// Replacing the callback waits for the running one to return:
			// from inside it that would never happen.
			return fmt.Errorf("pqc_mqtt_set_callback: %w", errWrongThread)
		}
		mo.stopPump()
		if cb != nil {
			mo.startPump(cb, user)
		}
		return nil
	})
}

// stopPump ends the callback goroutine and waits for it, so that once the
// caller returns the old callback and its user pointer are no longer used.
func (mo *mqttObject) stopPump() {
	mo.cbMu.Lock()
	defer mo.cbMu.Unlock()
	if mo.cbStop != nil {
		mo.cbStop()
		<-mo.cbDone
		mo.cbStop, mo.cbDone = nil, nil
	}
}

func (mo *mqttObject) startPump(cb C.capi_mqtt_cb, user unsafe.Pointer) {
	mo.cbMu.Lock()
	defer mo.cbMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	mo.cbStop, mo.cbDone = cancel, done
	go func() {
		defer close(done)
		for {
			if mo.take(ctx) != nil {
				return
			}
			m, err := mo.next(ctx)
			if err == nil {
				mo.pending = nil
			}
			mo.release()
			if err != nil {
				return
			}
			mo.deliver(cb, user, m)
		}
	}()
}

// deliver hands one message to the callback. A panic cannot come from C,
// but the recover keeps a fault while copying from ending the process.
func (mo *mqttObject) deliver(cb C.capi_mqtt_cb, user unsafe.Pointer, m *mqtt.Message) {
	defer recoverZero()
	topic, sender := C.CString(m.Topic), C.CString(m.Sender)
	defer C.free(unsafe.Pointer(topic))
	defer C.free(unsafe.Pointer(sender))
	var p *C.uint8_t
	if len(m.Payload) > 0 {
		p = (*C.uint8_t)(C.CBytes(m.Payload))
		defer func() {
			clear(unsafe.Slice((*byte)(unsafe.Pointer(p)), len(m.Payload)))
			C.free(unsafe.Pointer(p))
		}()
	}
	C.capi_call_mqtt_cb(cb, user, topic, sender, p, C.size_t(len(m.Payload)))
	clear(m.Payload)
}

//export pqc_mqtt_stats
func pqc_mqtt_stats(h C.uintptr_t, out *C.capi_mqtt_stats) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if out == nil {
		return fail(argError("stats is NULL"))
	}
	// Counters stay readable after close: that is when a caller reports
	// them.
	mo, ok := lookup[*mqttObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_mqtt_client", h))
	}
	if uint64(out.struct_size) != uint64(unsafe.Sizeof(*out)) {
		return fail(argError(fmt.Sprintf("pqc_mqtt_stats_t.struct_size is %d, this library knows %d", uint32(out.struct_size), unsafe.Sizeof(*out))))
	}
	s := mo.cl.Stats()
	*out = C.capi_mqtt_stats{
		struct_size:            out.struct_size,
		delivered:              C.uint64_t(s.Delivered),
		published:              C.uint64_t(s.Published),
		publish_failed:         C.uint64_t(s.PublishFailed),
		queue_full:             C.uint64_t(s.QueueFull),
		dropped_oversize:       C.uint64_t(s.DroppedOversize),
		dropped_bad_topic:      C.uint64_t(s.DroppedBadTopic),
		dropped_rate_limited:   C.uint64_t(s.DroppedRateLimited),
		dropped_unprotect:      C.uint64_t(s.DroppedUnprotect),
		dropped_not_for_me:     C.uint64_t(s.DroppedNotForMe),
		dropped_control:        C.uint64_t(s.DroppedAnnouncement + s.DroppedPolicy + s.DroppedRevocation + s.DroppedSync + s.DroppedHandshake + s.DroppedKeepRatchet + s.DroppedNoHandler),
		accepted_announcements: C.uint64_t(s.AcceptedAnnouncements),
		accepted_handshakes:    C.uint64_t(s.AcceptedHandshakes),
		reconnects:             C.uint64_t(s.Reconnects),
		connection_lost:        C.uint64_t(s.ConnectionLost),
	}
	return statusOK
}

// shutdown disconnects, stops the callback and saves the codec's replay
// windows; idempotent.
func (mo *mqttObject) shutdown() {
	mo.closeOnce.Do(func() {
		mo.closed.Store(true)
		mo.cl.Close()
		mo.stopPump()
		if !mo.id.freed.Load() {
			mo.codec.Close()
		}
	})
}

//export pqc_mqtt_close
func pqc_mqtt_close(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return closeObject[*mqttObject](h, "pqc_mqtt_client", "pqc_mqtt_close", C.capi_mqtt_in_callback() != 0, mqttFail)
}

//export pqc_mqtt_free
func pqc_mqtt_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	freeObject[*mqttObject](h, "pqc_mqtt_free", C.capi_mqtt_in_callback() != 0, "a callback; the client was not freed")
}

// ---- Embedded broker --------------------------------------------------

//export pqc_mqtt_broker_new
func pqc_mqtt_broker_new(addr *C.char, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	a, err := optionalString(addr, "address", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	b, err := mqtt.StartEmbeddedBroker(a)
	if err != nil {
		return mqttFail(err)
	}
	*out = C.uintptr_t(handles.add(&brokerObject{b: b}))
	return statusOK
}

//export pqc_mqtt_broker_url
func pqc_mqtt_broker_url(h C.uintptr_t, out *C.char, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	bo, ok := lookup[*brokerObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_mqtt_broker", h))
	}
	if err := writeString(out, capacity, outLen, bo.b.URL(), "broker URL"); err != nil {
		return fail(err)
	}
	return statusOK
}

//export pqc_mqtt_broker_free
func pqc_mqtt_broker_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	if bo, ok := release[*brokerObject](uintptr(h)); ok {
		bo.b.Close()
	}
}

// ---- Topic permissions ----------------------------------------------------

//export pqc_ca_allow_topics
func pqc_ca_allow_topics(h C.uintptr_t, deviceID *C.char, factoryKey *C.uint8_t, factoryKeyLen C.size_t, roles, publish, subscribe *C.char) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCA(h, func(c *caObject) error {
		id, err := cstr(deviceID, "device id")
		if err != nil {
			return err
		}
		raw, err := input(factoryKey, factoryKeyLen, "factory key")
		if err != nil {
			return err
		}
		key, err := identity.DecodePublicKey(raw)
		if err != nil {
			return err
		}
		r, err := optionalLong(roles, "roles")
		if err != nil {
			return err
		}
		pub, err := optionalLong(publish, "publish filters")
		if err != nil {
			return err
		}
		sub, err := optionalLong(subscribe, "subscribe filters")
		if err != nil {
			return err
		}
		// One entry per filter, merging grants, so a filter in both lists
		// is one permission with both rights as the certificate expects.
		var perms []identity.TopicPermission
		index := map[string]int{}
		add := func(list string, publish bool) error {
			for _, f := range splitList(list) {
				if err := mqtt.ValidateFilter(f); err != nil {
					return fmt.Errorf("%w: %w", err, session.ErrMalformed)
				}
				i, ok := index[f]
				if !ok {
					i = len(perms)
					index[f] = i
					perms = append(perms, identity.TopicPermission{Filter: f})
				}
				if publish {
					perms[i].Publish = true
				} else {
					perms[i].Subscribe = true
				}
			}
			return nil
		}
		if err := add(pub, true); err != nil {
			return err
		}
		if err := add(sub, false); err != nil {
			return err
		}
		return c.ca.Allow(identity.AllowedDevice{DeviceID: id, FactoryKey: key, Roles: splitList(r), Topics: perms})
	})
}
