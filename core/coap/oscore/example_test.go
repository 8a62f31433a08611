package oscore_test

import (
	"bytes"
	"context"
	"fmt"
	"log"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"

	"github.com/pqc-iiot/pqc-iiot/core/coap/oscore"
)

// Example runs an OSCORE-protected go-coap server and client over UDP.
func Example() {
	secret := []byte("0123456789abcdef")
	server, _ := oscore.NewContext(oscore.Params{MasterSecret: secret, SenderID: []byte{}, RecipientID: []byte{1}, FreshReplayWindow: true})
	client, _ := oscore.NewContext(oscore.Params{MasterSecret: secret, SenderID: []byte{1}, RecipientID: []byte{}})

	router := mux.NewRouter()
	_ = router.Handle("/temp", mux.HandlerFunc(func(w mux.ResponseWriter, r *mux.Message) {
		_ = w.SetResponse(codes.Content, message.TextPlain, bytes.NewReader([]byte("21.5 C")))
	}))
	resolve := func(kid, kidContext []byte) (*oscore.Context, error) {
		if bytes.Equal(kid, []byte{1}) && kidContext == nil {
			return server, nil
		}
		return nil, oscore.ErrContextNotFound
	}
	l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := udp.NewServer(options.WithMux(oscore.Handler(resolve, router)))
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	conn, err := udp.Dial(l.LocalAddr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	resp, err := oscore.NewClient(conn, client).Get(context.Background(), "/temp")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := resp.ReadBody()
	fmt.Println(resp.Code(), string(body))
	// Output: Content 21.5 C
}
