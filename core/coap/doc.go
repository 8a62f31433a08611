// Package coap is secure CoAP (RFC 7252) for pqc-iiot over go-coap v3: a
// Server and a Client that protect every request and response in one of
// four modes, optionally over DTLS, with access control on the server.
//
// Modes (Config.Mode):
//
//   - ModeSigned: each message carries a COSE_Sign1 (RFC 9052) made with the
//     sender's certified operational key, over the payload and, as external
//     data, the method, Uri-Path, Uri-Query, Content-Format, token, Observe,
//     every other non-hop option, a sequence number and (for responses) the
//     request. Authenticity and replay protection, no secrecy. Verifiers
//     need only the signer's certificate (core/identity.Trust).
//   - ModeSession: a core/session handshake on POST HandshakePath
//     (block-wise), then every message is a session frame whose plaintext is
//     bound to the same fields. Secrecy, authenticity, replay protection,
//     post-quantum forward secrecy from the ratchet.
//   - ModeOSCORE: the same handshake keys an RFC 8613 OSCORE context through
//     Session.Export (package core/coap/oscore does the OSCORE part), so
//     standard OSCORE protection gets post-quantum authenticated keys.
//   - ModePlain: no message protection; meant for use under DTLS (the
//     sender is then the DTLS identity) and for measurements.
//
// In signed and session modes a request travels as FETCH (for GET) or POST
// (for every other method) with the real method protected inside, as
// OSCORE does: block-wise transfer carries only body methods, and a
// post-quantum signature or ratchet key rarely fits in one block.
//
// Server:
//
//	srv, err := coap.NewServer(coap.Config{Mode: coap.ModeSession, Device: dev, Trust: trust, Store: st,
//		ACL: &coap.ACL{CertificateGrants: true}})
//	srv.Handle("/sensors/temp", func(r *coap.Request) coap.Response {
//		return coap.Response{Code: codes.Content, ContentFormat: 0, Payload: []byte("21.5")}
//	})
//	addr, err := srv.Listen(":5683") // or ListenAndServe, Serve(conn)
//	srv.Notify("/sensors/temp")      // observers get the handler's new answer
//	srv.Close()
//
// Handlers see only authenticated, access-checked requests: method, path,
// query, content format, payload and the sender's identity; they return
// code, content format and payload. A request the ACL refuses gets 4.03,
// an unknown path 4.04, both protected like any response.
//
// Client:
//
//	cl, err := coap.Dial("plc-1.local:5683", coap.Config{Mode: coap.ModeSession, Device: dev,
//		Trust: trust, Store: st, Peer: "plc-1"})
//	resp, err := cl.Get(ctx, "/sensors/temp?unit=C") // also Post, Put, Delete, Do
//	obs, first, err := cl.Observe(ctx, "/sensors/temp", func(n *coap.Response) { ... })
//
// Observe returns the verified first answer whatever its code (first.Code
// 4.04: nothing registered); notifications outlive ctx. Server.Close
// drains requests in flight (at most DrainTimeout). Nothing is written to
// standard output or error: transport errors go to Config.Errors.
//
// A Response is returned only when it verified; resp.Sender is the
// authenticated responder. An unprotected error from a server that could
// not authenticate the request is ErrRejected (Code gives the CoAP code).
// After a server restart the client recovers by itself once per request:
// a new handshake (session, OSCORE) or a jump past the server's replay
// floor (signed).
//
// What it refuses: unknown modes and incomplete configurations (ErrConfig),
// payloads over MaxPayload before any cryptography (4.13), messages whose
// protected fields do not match the message they came in (ErrBinding),
// replays (4.01), unexpected responders (ErrUnknownPeer), and proxies:
// nothing here is meant to pass a CoAP proxy.
//
// Wire formats and the OSCORE keying profile: docs/coap.md.
package coap
