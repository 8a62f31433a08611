package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/mqtt/brokertest"
)

// watcher is an independent MQTT client (plain paho, no code of ours)
// standing in for devices: it sends sync requests and records every
// message it receives, by topic, in arrival order.
type watcher struct {
	pc   paho.Client
	mu   sync.Mutex
	got  map[string][][]byte
	seen chan string
}

func newWatcher(t *testing.T, url string, filters ...string) *watcher {
	t.Helper()
	w := &watcher{got: map[string][][]byte{}, seen: make(chan string, 256)}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID("watcher").SetAutoReconnect(false)
	w.pc = paho.NewClient(opts)
	if tok := w.pc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	t.Cleanup(func() { w.pc.Disconnect(100) })
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	tok := w.pc.SubscribeMultiple(subs, func(_ paho.Client, m paho.Message) {
		w.mu.Lock()
		w.got[m.Topic()] = append(w.got[m.Topic()], bytes.Clone(m.Payload()))
		w.mu.Unlock()
		w.seen <- m.Topic()
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher subscribe: %v", tok.Error())
	}
	return w
}

func (w *watcher) publish(t *testing.T, topic string, payload []byte) {
	t.Helper()
	if tok := w.pc.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// await waits until every topic has received a message.
func (w *watcher) await(t *testing.T, topics ...string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		missing := ""
		for _, tp := range topics {
			if len(w.got[tp]) == 0 {
				missing = tp
				break
			}
		}
		w.mu.Unlock()
		if missing == "" {
			return
		}
		select {
		case <-w.seen:
		case <-deadline:
			t.Fatalf("nothing received on %s", missing)
		}
	}
}

func (w *watcher) messages(topic string) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[topic]
}

// server is a running 'pqc-iiot control serve' process.
type server struct {
	cmd    *exec.Cmd
	stdout *bufio.Reader
	out    bytes.Buffer
	stderr bytes.Buffer
}

func startControl(t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{cmd: exec.Command(binary, append([]string{"control", "serve"}, args...)...)}
	pipe, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdout = bufio.NewReader(pipe)
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	line, err := s.stdout.ReadString('\n')
	if err != nil || !strings.Contains(line, "control plane serving") {
		s.cmd.Wait()
		t.Fatalf("control serve did not start: %q %v\nstderr: %s", line, err, s.stderr.String())
	}
	s.out.WriteString(line)
	return s
}

// stop sends sig and returns the exit code and everything printed.
func (s *server) stop(t *testing.T, sig os.Signal) (int, string) {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(s.stdout)
	s.out.Write(rest)
	err := s.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, s.out.String()
}

// TestControlServeWithMosquitto runs 'pqc-iiot control serve' as a real
// process against a real Mosquitto and plays the devices with an
// independent paho client: the objects are retained, sync requests are
// answered with exactly the CA-signed bytes, requests over budget,
// oversized or under an invalid id are not, SIGTERM stops it cleanly, and
// a rolled-back or foreign policy is refused at start.
func TestControlServeWithMosquitto(t *testing.T) {
	mq := brokertest.Start(t)
	dir := t.TempDir()
	caDir, rogueDir := filepath.Join(dir, "ca"), filepath.Join(dir, "rogue")
	anchor := filepath.Join(caDir, "ca.cert")
	ok(t, "ca", "init", "--dir", caDir, "--name", "plant-root")
	ok(t, "ca", "init", "--dir", rogueDir, "--name", "plant-root")
	p1, p2, rl, foreign := filepath.Join(dir, "p1"), filepath.Join(dir, "p2"), filepath.Join(dir, "rl"), filepath.Join(dir, "foreign")
	ok(t, "policy", "sign", "--dir", caDir, "--out", p1)
	ok(t, "policy", "sign", "--dir", caDir, "--out", p2)
	ok(t, "revoke", "--dir", caDir, "--out", rl)
	ok(t, "policy", "sign", "--dir", rogueDir, "--out", foreign)
	want := map[string][]byte{}
	for name, path := range map[string]string{"policy": p2, "revocation": rl} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = b
	}

	// A tiny budget per device (one answer, no refill during the test) and
	// a large global one, so the per-device limit is what is observed.
	srv := startControl(t, "--broker", mq.URL(), "--anchor", anchor, "--policy", p2, "--revocation", rl,
		"--sync-rate", "0.0001", "--sync-burst", "1")
	w := newWatcher(t, mq.URL(), "pqc/v1/policy", "pqc/v1/revocation", "pqc/v1/sync/+/+")

	t.Run("retained", func(t *testing.T) {
		w.await(t, "pqc/v1/policy", "pqc/v1/revocation")
		for name, b := range want {
			if got := w.messages("pqc/v1/" + name); !bytes.Equal(got[0], b) {
				t.Fatalf("retained %s differs from the CA-signed file", name)
			}
		}
	})
	t.Run("sync answered", func(t *testing.T) {
		w.publish(t, "pqc/v1/sync/plc-7", nil)
		w.await(t, "pqc/v1/sync/plc-7/policy", "pqc/v1/sync/plc-7/revocation")
		for name, b := range want {
			if got := w.messages("pqc/v1/sync/plc-7/" + name); len(got) != 1 || !bytes.Equal(got[0], b) {
				t.Fatalf("sync reply %s: %d messages, or not the CA-signed bytes", name, len(got))
			}
		}
	})
	t.Run("refused requests", func(t *testing.T) {
		for range 3 { // plc-7's budget is spent
			w.publish(t, "pqc/v1/sync/plc-7", nil)
		}
		w.publish(t, "pqc/v1/sync/plc-9", make([]byte, 300)) // over MaxSyncRequestSize
		w.publish(t, "pqc/v1/sync/-bad", nil)                // not a device id
		// The control plane handles requests in order: once a later
		// device's answer is here, the ones above were decided.
		w.publish(t, "pqc/v1/sync/plc-8", nil)
		w.await(t, "pqc/v1/sync/plc-8/policy", "pqc/v1/sync/plc-8/revocation")
		for _, tc := range []struct {
			topic string
			want  int
		}{
			{"pqc/v1/sync/plc-7/policy", 1}, // over budget: still the first answer only
			{"pqc/v1/sync/plc-9/policy", 0},
			{"pqc/v1/sync/-bad/policy", 0},
			{"pqc/v1/sync/plc-8/revocation", 1},
		} {
			if n := len(w.messages(tc.topic)); n != tc.want {
				t.Errorf("%s: %d answers, want %d", tc.topic, n, tc.want)
			}
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		code, out := srv.stop(t, syscall.SIGTERM)
		if code != 0 || !strings.Contains(out, "stopped: 2 sync requests answered, 3 over budget") {
			t.Fatalf("exit %d, output:\n%s\nstderr: %s", code, out, srv.stderr.String())
		}
	})
	t.Run("refused at start", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			code int
		}{
			{"rolled-back policy", []string{"--broker", mq.URL(), "--anchor", anchor, "--policy", p1}, exitRefused},
			{"policy of another CA", []string{"--broker", mq.URL(), "--anchor", anchor, "--policy", foreign}, exitRefused},
			{"revocation list as policy", []string{"--broker", mq.URL(), "--anchor", anchor, "--policy", rl}, exitRefused},
			{"no anchor", []string{"--broker", mq.URL()}, exitUsage},
			{"zero budget", []string{"--broker", mq.URL(), "--anchor", anchor, "--sync-burst", "0"}, exitUsage},
		} {
			r := cli(t, append([]string{"control", "serve", "--client-id", "cp-refused"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, r.code, tc.code, r.stdout, r.stderr)
			}
		}
	})
}
