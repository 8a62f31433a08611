package mqtt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// The matching cases of MQTT 3.1.1 §4.7 plus the corners users trip on.
func TestMatchFollowsMQTT(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true},
		{"#", "sport/tennis", true},
		{"#", "/", true},
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"+", "finance", true},
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+/c", "a/x/c", true},
		{"a/+/c", "a/x/d", false},
		{"#", "$SYS/broker", false},
		{"+/broker", "$SYS/broker", false},
		{"$SYS/#", "$SYS/broker", true},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
	}
	for _, c := range cases {
		if got := Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestTopicAndFilterSyntax(t *testing.T) {
	for _, ok := range []string{"a", "a/b", "/a", "a/", "plant/line-3/temp"} {
		if err := ValidateTopic(ok); err != nil {
			t.Errorf("topic %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/+", "a/#", "$SYS/x", "a\x00b", "a\nb", strings.Repeat("a", MaxTopicLength+1), "\xff"} {
		if err := ValidateTopic(bad); !errors.Is(err, ErrBadTopic) {
			t.Errorf("topic %q accepted", bad)
		}
	}
	for _, ok := range []string{"#", "+", "a/+/b", "a/#", "+/+/#"} {
		if err := ValidateFilter(ok); err != nil {
			t.Errorf("filter %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"a/#/b", "a+", "a/b#", "#/a", ""} {
		if err := ValidateFilter(bad); !errors.Is(err, ErrBadTopic) {
			t.Errorf("filter %q accepted", bad)
		}
	}
}

func TestClassifyControlChecksDeviceIDsBeforeParsing(t *testing.T) {
	cases := []struct {
		topic string
		kind  controlKind
		id    string
	}{
		{"pqc/v1/keys/pump-7", ctlKeys, "pump-7"},
		{"pqc/v1/policy", ctlPolicy, ""},
		{"pqc/v1/revocation", ctlRevocation, ""},
		{"pqc/v1/sync/pump-7", ctlSyncRequest, "pump-7"},
		{"pqc/v1/sync/pump-7/policy", ctlSyncPolicy, "pump-7"},
		{"pqc/v1/sync/pump-7/revocation", ctlSyncRevocation, "pump-7"},
	}
	for _, c := range cases {
		k, id, err := classifyControl(c.topic)
		if err != nil || k != c.kind || id != c.id {
			t.Errorf("%q: %v %q %v", c.topic, k, id, err)
		}
	}
	for _, bad := range []string{"pqc/v1/keys/", "pqc/v1/keys/-x", "pqc/v1/keys/a/b", "pqc/v1/keys/" + strings.Repeat("a", 200),
		"pqc/v1/sync/x/other", "pqc/v2/policy", "pqc/v1/policy/x", "pqc/v1/keys/a b"} {
		if _, _, err := classifyControl(bad); !errors.Is(err, ErrBadTopic) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	var b bucket
	lim := identity.RateLimit{Rate: 10, Burst: 5}
	n := 0
	for range 20 {
		if b.take(lim, now) {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("burst: %d", n)
	}
	if b.take(lim, now.Add(50*time.Millisecond)) {
		t.Fatal("token before refill")
	}
	if !b.take(lim, now.Add(200*time.Millisecond)) {
		t.Fatal("no token after refill")
	}
}

// An attacker cycling claimed identities gets at most MaxPeers buckets,
// and its frames are charged to the unknown-sender budget, never to the
// budget that verified senders use.
func TestLimiterBoundsStateAndSeparatesUnknownSenders(t *testing.T) {
	l := newLimiter(Budgets{Peer: identity.RateLimit{Rate: 1, Burst: 1}, Global: identity.RateLimit{Rate: 1, Burst: 10},
		Unknown: identity.RateLimit{Rate: 1, Burst: 3}, MaxPeers: 100})
	now := time.Unix(1000, 0)
	l.markVerified("good")
	allowed := 0
	for i := range 10000 {
		if l.allowData("attacker-"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+itoa(i), now, 1) {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("unknown senders got %d frames through, want the burst of 3", allowed)
	}
	if l.peers.len() > 100 || l.verified.len() > 100 {
		t.Fatalf("state grew: %d peers, %d verified", l.peers.len(), l.verified.len())
	}
	if !l.allowData("good", now, 1) {
		t.Fatal("verified sender starved by the flood")
	}
	if l.allowData("good", now, 1) {
		t.Fatal("per-peer bucket not applied")
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

func TestLRUEvictsOldest(t *testing.T) {
	l := newLRU[int](2)
	*l.get("a") = 1
	*l.get("b") = 2
	l.get("a") // a is now the most recent
	*l.get("c") = 3
	if l.has("b") || !l.has("a") || !l.has("c") || l.len() != 2 {
		t.Fatal("wrong eviction")
	}
}

// Session frames (bundles: symmetric trials only) cost a fraction of a
// token, so a policy's budget of expensive operations does not cap session
// telemetry at the handshake rate; other frames cost a whole token.
func TestLimiterChargesSessionFramesAFraction(t *testing.T) {
	lim := identity.RateLimit{Rate: 20, Burst: 40}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		cost float64
		want int
	}{
		{"sealed or unknown frames", 1, 40},
		{"session frames", sessionFrameCost, 40 * 32},
	} {
		l := newLimiter(Budgets{Peer: lim, Global: identity.RateLimit{Rate: 1e6, Burst: 1e6}})
		l.markVerified("sensor")
		n := 0
		for l.allowData("sensor", now, tc.cost) {
			n++
			if n > 1e5 {
				break
			}
		}
		if n != tc.want {
			t.Errorf("%s: %d frames in one burst, want %d", tc.name, n, tc.want)
		}
	}
}
