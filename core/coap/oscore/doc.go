// Package oscore implements OSCORE, Object Security for Constrained RESTful
// Environments (RFC 8613), with the Echo option of RFC 9175 for replay-window
// recovery, on top of github.com/plgd-dev/go-coap/v3.
//
// # What it offers
//
//   - Security contexts (RFC 8613 §3): NewContext derives sender/recipient keys
//     and the Common IV from Params with HKDF-SHA256 and the CBOR info array.
//     AEADs: AES-CCM-16-64-128 (COSE 10, mandatory, own CCM implementation,
//     RFC 3610 vectors), A128GCM (1) and A256GCM (3).
//   - Message protection, sans-I/O, on go-coap's message.Message:
//     Context.ProtectRequest, UnprotectRequest, ProtectResponse,
//     UnprotectResponse, ProtectEchoChallenge. Class E options go into the
//     ciphertext, Class U options stay outside (RFC 8613 §4.1); the outer code
//     is POST (FETCH for Observe) and 2.04 (2.05 for Observe). The OSCORE option
//     codec is ParseOption / OptionValue.Encode.
//   - Replay protection (§7.4): a sliding window (Params.ReplayWindow, default
//     32, at most 64) on the server; notification ordering on the client.
//   - Sequence numbers persisted with reservation (Appendix B.1.1): SeqStore,
//     FileSeqStore (atomic rename + fsync), MemorySeqStore.
//   - Freshness after reboot (Appendix B.1.2, RFC 9175): a context created
//     without FreshReplayWindow answers its first request with a protected 4.01
//     carrying Echo; the retry carrying that Echo rebuilds the window.
//   - go-coap integration: Handler wraps a mux.Handler (server), NewClient wraps
//     a *udp/client.Conn (client) with Do, Get, Post and Observe.
//   - Inner (end-to-end) block-wise transfer (RFC 8613 §4.1.3.4.1, RFC 7959,
//     RFC 9175 Request-Tag), so that every protected message fits one
//     datagram of 1152 bytes: the client sends bodies over 1024 bytes as
//     512-byte Block1 blocks under a random Request-Tag and shrinks them when
//     the server asks; the server sends answers over 1024 bytes (or over the
//     block the client asked for) as Block2 blocks served from a bounded
//     response cache, so the application handler runs once per request, and
//     does the same for notifications; the client fetches the remaining
//     blocks and checks that each continues the body (offset, code, ETag).
//
// # What it refuses
//
//   - Proxy-Uri in requests (ErrProxyURI): send Proxy-Scheme and Uri-* options.
//   - Group OSCORE (flag bit 5), reserved flag bits, Partial IVs longer than 5
//     bytes or with leading zeros, trailing bytes in the option.
//   - Any state change before the AEAD tag verified; a sender sequence number
//     that could not be persisted (fail closed with ErrSeqPersist).
//   - Messages written through Handler's connection that are not notifications
//     of the current observation (nothing leaves unprotected).
//
// # Stable API used by core/coap
//
//	NewContext(Params) (*Context, error)
//	Handler(resolve func(kid, kidContext []byte) (*Context, error), next mux.Handler, opts ...HandlerOption) mux.Handler
//	NewClient(conn *udpclient.Conn, ctx *Context) *Client
//	(*Client).Do(ctx, *pool.Message) (*pool.Message, error), Get, Post, Observe
//
// Importing the package registers the OSCORE option (9) in go-coap's option
// table, so that go-coap does not reject OSCORE messages as carrying an unknown
// critical option. See docs/coap-oscore.md for the wire details and what is
// tested against aiocoap.
package oscore
