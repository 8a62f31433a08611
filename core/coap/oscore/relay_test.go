package oscore

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
)

// relayAction is what a recordingRelay does with one datagram.
type relayAction int

const (
	relayForward relayAction = iota
	relayDrop
	relayHold // sent right after the next datagram in the same direction (reordering)
)

// relayPlan decides the fate of the n-th datagram (1-based) in a direction.
type relayPlan func(up bool, n int) relayAction

// recordingRelay sits between one client and a server on UDP loopback. It
// records the size of every datagram and the distinct CoAP message IDs sent
// upstream, and drops or reorders the datagrams its plan names. The plan is
// deterministic, so a failure can be replayed.
type recordingRelay struct {
	conn *net.UDPConn // faces the client
	up   *net.UDPConn // faces the server
	plan relayPlan

	mu      sync.Mutex
	client  *net.UDPAddr
	count   map[bool]int
	largest map[bool]int
	held    map[bool][]byte
	dropped int
	upMIDs  map[uint16]bool
}

func startRecordingRelay(t *testing.T, server string, plan relayPlan) *recordingRelay {
	t.Helper()
	sa, err := net.ResolveUDPAddr("udp", server)
	must(t, err)
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	up, err := net.DialUDP("udp", nil, sa)
	must(t, err)
	r := &recordingRelay{conn: c, up: up, plan: plan, count: map[bool]int{}, largest: map[bool]int{},
		held: map[bool][]byte{}, upMIDs: map[uint16]bool{}}
	var wg sync.WaitGroup
	wg.Add(2)
	go r.pump(&wg, c, true, func(p []byte) { _, _ = up.Write(p) })
	go r.pump(&wg, up, false, func(p []byte) {
		r.mu.Lock()
		to := r.client
		r.mu.Unlock()
		_, _ = c.WriteToUDP(p, to)
	})
	t.Cleanup(func() { _ = c.Close(); _ = up.Close(); wg.Wait() })
	return r
}

func (r *recordingRelay) addr() string { return r.conn.LocalAddr().String() }

func (r *recordingRelay) pump(wg *sync.WaitGroup, c *net.UDPConn, upward bool, send func([]byte)) {
	defer wg.Done()
	buf := make([]byte, 65536) // larger than any limit under test, so oversize is seen, not truncated
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if upward {
			r.mu.Lock()
			r.client = from
			r.mu.Unlock()
		}
		for _, p := range r.route(upward, append([]byte(nil), buf[:n]...)) {
			send(p)
		}
	}
}

// route records b and returns what to send now.
func (r *recordingRelay) route(upward bool, b []byte) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count[upward]++
	r.largest[upward] = max(r.largest[upward], len(b))
	if upward && len(b) >= 4 {
		r.upMIDs[binary.BigEndian.Uint16(b[2:4])] = true
	}
	switch r.plan(upward, r.count[upward]) {
	case relayDrop:
		r.dropped++
		return nil
	case relayHold:
		if r.held[upward] == nil {
			r.held[upward] = b
			return nil
		}
	}
	out := [][]byte{b}
	if h := r.held[upward]; h != nil {
		out = append(out, h)
		r.held[upward] = nil
	}
	return out
}

// stats returns the largest datagram each way, the number of distinct
// upstream message IDs (requests, not counting retransmissions) and the
// number of dropped datagrams.
func (r *recordingRelay) stats() (largestUp, largestDown, requests, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.largest[true], r.largest[false], len(r.upMIDs), r.dropped
}

func noLoss(bool, int) relayAction { return relayForward }

// lossy drops and reorders a fixed share each way: upstream every 5th
// datagram (from the 3rd) is dropped and every 7th held back; downstream
// every 4th (from the 2nd) is dropped and every 6th (from the 5th) held.
// No two consecutive datagrams are both dropped, so CoAP retransmission
// always gets through.
func lossy(up bool, n int) relayAction {
	switch {
	case up && n%5 == 3, !up && n%4 == 2:
		return relayDrop
	case up && n%7 == 0, !up && n%6 == 5:
		return relayHold
	}
	return relayForward
}
