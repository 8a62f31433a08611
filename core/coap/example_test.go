package coap_test

import (
	"context"
	"fmt"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/pqc-iiot/pqc-iiot/core/coap"
)

// A server and a client on loopback. ModePlain keeps the example short: in
// the other modes the Config also names the device (Device, Trust, Store)
// and, on the client, the server's device id (Peer); the calls are the same.
func Example() {
	srv, err := coap.NewServer(coap.Config{Mode: coap.ModePlain})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	srv.Handle("/sensors/temp", func(r *coap.Request) coap.Response {
		return coap.Response{Code: codes.Content, ContentFormat: 0, Payload: []byte("21.5 " + r.Query[0])}
	})
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		panic(err)
	}

	cl, err := coap.Dial(addr.String(), coap.Config{Mode: coap.ModePlain})
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Get(ctx, "/sensors/temp?unit=C")
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Code, string(resp.Payload))
	// Output: Content 21.5 unit=C
}
