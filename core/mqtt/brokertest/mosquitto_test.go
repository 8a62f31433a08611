package brokertest

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// fakeTB records what Require asks of the test instead of ending it.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }
func (f *fakeTB) Skipf(format string, args ...any)  { f.skip = fmt.Sprintf(format, args...) }

// A CI job without Mosquitto must fail, not pass by skipping everything.
func TestRequireFailsInCIAndSkipsLocallyWhenMissing(t *testing.T) {
	t.Setenv("MOSQUITTO", "/nonexistent/mosquitto")
	t.Setenv("CI", "true")
	ci := &fakeTB{TB: t}
	Require(ci)
	if ci.fatal == "" || ci.skip != "" {
		t.Fatalf("with CI set: fatal=%q skip=%q", ci.fatal, ci.skip)
	}
	t.Setenv("CI", "")
	local := &fakeTB{TB: t}
	Require(local)
	if local.skip == "" || local.fatal != "" {
		t.Fatalf("without CI: fatal=%q skip=%q", local.fatal, local.skip)
	}
}

func TestKillAndRestartOnTheSamePort(t *testing.T) {
	m := Start(t)
	port := m.Port
	m.Kill()
	if c, err := net.DialTimeout("tcp", m.Addr(), 200*time.Millisecond); err == nil {
		c.Close()
		t.Fatal("still accepting after SIGKILL")
	}
	m.Restart()
	if m.Port != port {
		t.Fatal("port changed")
	}
	c, err := net.DialTimeout("tcp", m.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
