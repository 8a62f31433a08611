package coap

import (
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/options/config"
	udpClient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// flight counts the requests a server is handling (and notifications it
// is sending), so that Close lets them finish before the sockets close.
type flight struct {
	mu      sync.Mutex
	n       int
	closing bool
	idle    chan struct{} // closed when n drops to 0 while closing
}

// enter admits one request, unless the server is closing and it does
// not continue one already admitted.
func (f *flight) enter(continuation bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing && !continuation {
		return false
	}
	f.n++
	return true
}

func (f *flight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// hold counts a block-wise answer waiting for its continuations as in
// flight, even while closing (its request was admitted); the returned
// function ends it.
func (f *flight) hold() func() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	return f.leaver()
}

// leaver is leave for a callback that might run more than once.
func (f *flight) leaver() func() {
	var once sync.Once
	return func() { once.Do(f.leave) }
}

// drain refuses new requests and waits, at most limit, for those in
// flight; it reports whether they all finished.
func (f *flight) drain(limit time.Duration) bool {
	f.mu.Lock()
	f.closing = true
	if f.n == 0 {
		f.mu.Unlock()
		return true
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	f.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		return false
	}
}

// dispatcher runs each received message on its own goroutine, at most
// MaxInFlight at once. go-coap's default handles the messages of one
// client endpoint one after another on its receive loop, so a slow
// handler would hold up every other request of that client. When all
// slots are taken the message is handled on the receive loop itself:
// that endpoint then waits, which bounds goroutines and memory whatever
// a peer sends. Retransmissions of a request still being handled are
// answered once it is done, from go-coap's response cache (go-coap
// serialises the handling of one message ID).
func (s *Server) dispatcher() config.ProcessReceivedMessageFunc[*udpClient.Conn] {
	slots := make(chan struct{}, s.cfg.MaxInFlight)
	return func(req *pool.Message, cc *udpClient.Conn, h config.HandlerFunc[*udpClient.Conn]) {
		select {
		case slots <- struct{}{}:
			go func() {
				defer func() { <-slots }()
				cc.ProcessReceivedMessageWithHandler(req, h)
			}()
		default:
			cc.ProcessReceivedMessageWithHandler(req, h)
		}
	}
}
