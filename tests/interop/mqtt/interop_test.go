// Package mqttinterop runs the C sensor (examples/c/mqtt_sensor.c), the C++
// SCADA server (examples/cpp/scada.cpp) and the Python historian
// (examples/python/scada_subscriber.py) as separate processes against a
// real Mosquitto, with the fleet provisioned and served by the pqc-iiot
// CLI (Go), and checks what each of them received and from whom.
//
// It needs the shared library and the built examples:
//
//	make lib && cmake -S . -B build/cmake && cmake --build build/cmake
//	PQC_IIOT_INTEROP_REQUIRED=1 go test -count=1 ./tests/interop/mqtt/
//
// Without them it skips, unless PQC_IIOT_INTEROP_REQUIRED=1 (the make
// target sets it) turns the skip into a failure. PQC_IIOT_LIBRARY and
// PQC_IIOT_EXAMPLES point elsewhere than build/lib/libpqc_iiot.so and
// build/cmake/examples; PYTHON names the interpreter (python3).
package mqttinterop

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/mqtt/brokertest"
)

const (
	passphrase = "interop through mosquitto"
	readings   = 5
)

// tools are the programs under test and where they come from.
type tools struct {
	root, lib, sensor, scada, python, historian, cli string
}

func locate(t *testing.T) tools {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	examples := env("PQC_IIOT_EXAMPLES", filepath.Join(root, "build", "cmake", "examples"))
	tl := tools{root: root,
		lib:       env("PQC_IIOT_LIBRARY", filepath.Join(root, "build", "lib", "libpqc_iiot.so")),
		sensor:    filepath.Join(examples, "c", "mqtt_sensor"),
		scada:     filepath.Join(examples, "cpp", "scada"),
		python:    env("PYTHON", "python3"),
		historian: filepath.Join(root, "examples", "python", "scada_subscriber.py"),
	}
	for _, p := range []string{tl.lib, tl.sensor, tl.scada} {
		if _, err := os.Stat(p); err != nil {
			msg := fmt.Sprintf("%s missing (make lib; cmake --build build/cmake): %v", p, err)
			if os.Getenv("PQC_IIOT_INTEROP_REQUIRED") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	brokertest.Require(t)
	tl.cli = filepath.Join(t.TempDir(), "pqc-iiot")
	build := exec.Command("go", "build", "-o", tl.cli, "./cmd/pqc-iiot")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	return tl
}

// run runs the CLI and fails the test if it fails.
func (tl tools) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(tl.cli, args...)
	cmd.Env = append(os.Environ(), "PQC_IIOT_PASSPHRASE="+passphrase)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pqc-iiot %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// grants are each device's topic permissions, written into its
// certificate by the CA: who may publish what is enforced by receivers.
var grants = map[string][]string{
	"sensor-1":    {"--publish", "plant/+/telemetry", "--subscribe", "plant/+/setpoint"},
	"scada-1":     {"--publish", "plant/+/setpoint", "--subscribe", "plant/#"},
	"historian-1": {"--publish", "plant/+/report", "--subscribe", "plant/#"},
}

// provision makes a CA, a policy, a revocation list and the three devices'
// keystores with the CLI alone, as an operator would.
func (tl tools) provision(t *testing.T, dir string) (anchor, policy, revocation string) {
	t.Helper()
	caDir := filepath.Join(dir, "ca")
	anchor, policy, revocation = filepath.Join(caDir, "ca.cert"), filepath.Join(dir, "policy"), filepath.Join(dir, "revocation")
	tl.run(t, "ca", "init", "--dir", caDir, "--name", "plant-root")
	tl.run(t, "policy", "sign", "--dir", caDir, "--out", policy)
	tl.run(t, "revoke", "--dir", caDir, "--out", revocation)
	for id, perms := range grants {
		st, factory := filepath.Join(dir, id+".store"), filepath.Join(dir, id+".factory")
		join, chain := filepath.Join(dir, id+".join"), filepath.Join(dir, id+".chain")
		tl.run(t, "device", "init", "--store", st, "--id", id, "--factory-key-out", factory)
		tl.run(t, append([]string{"ca", "allow", "--dir", caDir, "--device", id, "--factory-key", factory}, perms...)...)
		tl.run(t, "device", "join", "--store", st, "--out", join)
		tl.run(t, "ca", "enroll", "--dir", caDir, "--request", join, "--out", chain)
		tl.run(t, "device", "install", "--store", st, "--chain", chain, "--anchor", anchor, "--policy", policy)
	}
	return anchor, policy, revocation
}

// proc is a program under test; its output lines are collected as they
// come, so the test can wait for one.
type proc struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	line  chan string
	done  chan struct{}
}

func (tl tools) start(t *testing.T, name string, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), line: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "PQC_PASSPHRASE="+passphrase, "PQC_IIOT_PASSPHRASE="+passphrase,
		"PQC_IIOT_LIBRARY="+tl.lib, "LD_LIBRARY_PATH="+filepath.Dir(tl.lib),
		"PYTHONPATH="+filepath.Join(tl.root, "bindings", "python", "src"))
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.line <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// waitFor waits until a line containing text was printed.
func (p *proc) waitFor(t *testing.T, text string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.Contains(l, text) {
				p.mu.Unlock()
				return
			}
		}
		p.mu.Unlock()
		select {
		case <-p.line:
		case <-p.done:
			t.Fatalf("%s exited before printing %q:\n%s", p.name, text, p.output())
		case <-deadline:
			t.Fatalf("%s did not print %q:\n%s", p.name, text, p.output())
		}
	}
}

// exit waits for the program's end and returns its status.
func (p *proc) exit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
	}
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// received is what a program printed as verified: "verified KIND from
// SENDER on TOPIC: TEXT", one entry per message.
type received struct{ kind, sender, topic, text string }

func (p *proc) received() []received {
	var out []received
	for _, l := range strings.Split(p.output(), "\n") {
		rest, ok := strings.CutPrefix(l, "verified ")
		if !ok {
			continue
		}
		var r received
		var head string
		head, r.text, _ = strings.Cut(rest, ": ")
		if _, err := fmt.Sscanf(head, "%s from %s on %s", &r.kind, &r.sender, &r.topic); err != nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

// inject publishes a frame on topic as anyone on the broker can: no
// identity, no protection.
func inject(t *testing.T, url, topic string, payload []byte) {
	t.Helper()
	pc := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("intruder"))
	if tok := pc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("intruder connect: %v", tok.Error())
	}
	defer pc.Disconnect(100)
	if tok := pc.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("intruder publish: %v", tok.Error())
	}
}

// TestThreeLanguagesThroughMosquitto: the C sensor publishes readings that
// the C++ SCADA server and the Python historian receive, verified as from
// sensor-1; the SCADA server's setpoint reaches the sensor and the
// historian, verified as from scada-1; the historian's report reaches the
// SCADA server, verified as from historian-1. Everything crosses a real
// Mosquitto, whose retained policy and revocation list come from 'pqc-iiot
// control serve'. Frames an intruder injects (forged plaintext, a captured
// frame replayed) are refused and printed by no one.
func TestThreeLanguagesThroughMosquitto(t *testing.T) {
	tl := locate(t)
	dir := t.TempDir()
	anchor, policy, revocation := tl.provision(t, dir)
	mq := brokertest.Start(t)
	url := mq.URL()

	cp := tl.start(t, "control plane", tl.cli, "control", "serve", "--broker", url, "--anchor", anchor,
		"--policy", policy, "--revocation", revocation)
	cp.waitFor(t, "control plane serving", 60*time.Second)

	scada := tl.start(t, "C++ scada", tl.scada, url, filepath.Join(dir, "scada-1.store"), fmt.Sprint(readings), "--exchange")
	historian := tl.start(t, "Python historian", tl.python, tl.historian, url, filepath.Join(dir, "historian-1.store"),
		fmt.Sprint(readings), "--exchange")
	scada.waitFor(t, "scada ready", 60*time.Second)
	historian.waitFor(t, "python subscriber ready", 60*time.Second)

	// A capture of the first genuine frame, replayed while the readers
	// still run: the broker hands it to them after the original.
	captured := make(chan []byte, 1)
	spy := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("spy"))
	if tok := spy.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("spy connect: %v", tok.Error())
	}
	defer spy.Disconnect(100)
	spy.Subscribe("plant/line1/telemetry", 1, func(_ paho.Client, m paho.Message) {
		select {
		case captured <- bytes.Clone(m.Payload()):
		default:
		}
	}).WaitTimeout(10 * time.Second)
	inject(t, url, "plant/line1/telemetry", []byte("reading 99: temp=99.9 C (forged, in clear)"))

	sensor := tl.start(t, "C sensor", tl.sensor, url, filepath.Join(dir, "sensor-1.store"), fmt.Sprint(readings), "2", "60")
	select {
	case frame := <-captured:
		inject(t, url, "plant/line1/telemetry", frame)
	case <-time.After(60 * time.Second):
		t.Fatalf("the spy saw no telemetry frame:\n%s", sensor.output())
	}
	if code := sensor.exit(t, 120*time.Second); code != 0 {
		t.Fatalf("C sensor: exit %d\n%s", code, sensor.output())
	}
	for _, p := range []*proc{scada, historian} {
		if code := p.exit(t, 90*time.Second); code != 0 {
			t.Fatalf("%s: exit %d\n%s", p.name, code, p.output())
		}
	}
	cp.cmd.Process.Signal(syscall.SIGTERM)
	if code := cp.exit(t, 30*time.Second); code != 0 {
		t.Errorf("control plane: exit %d\n%s", code, cp.output())
	}

	want := func(kind, sender, topic string, n int) []received {
		var out []received
		for range n {
			out = append(out, received{kind: kind, sender: sender, topic: topic})
		}
		return out
	}
	telemetry := want("reading", "sensor-1", "plant/line1/telemetry", readings)
	setpoint := want("setpoint", "scada-1", "plant/line1/setpoint", 1)
	report := want("report", "historian-1", "plant/line1/report", 1)
	for _, tc := range []struct {
		p    *proc
		want []received
	}{
		{scada, slices.Concat(telemetry, report)},
		{historian, slices.Concat(telemetry, setpoint)},
		{sensor, setpoint},
	} {
		got := tc.p.received()
		if len(got) != len(tc.want) {
			t.Errorf("%s received %d messages, want %d:\n%s", tc.p.name, len(got), len(tc.want), tc.p.output())
			continue
		}
		counts := map[received]int{}
		for _, r := range got {
			if strings.Contains(r.text, "99") && r.kind == "reading" {
				t.Errorf("%s printed the forged reading: %+v", tc.p.name, r)
			}
			if r.kind == "reading" && !strings.HasPrefix(r.text, "reading ") {
				t.Errorf("%s: reading %q", tc.p.name, r.text)
			}
			counts[received{kind: r.kind, sender: r.sender, topic: r.topic}]++
		}
		for _, w := range tc.want {
			if counts[w] == 0 {
				t.Errorf("%s lacks a %s from %s on %s:\n%s", tc.p.name, w.kind, w.sender, w.topic, tc.p.output())
			}
			counts[w]--
		}
	}
	for i := 1; i <= readings; i++ {
		for _, p := range []*proc{scada, historian} {
			if !strings.Contains(p.output(), fmt.Sprintf("from sensor-1 on plant/line1/telemetry: reading %d:", i)) {
				t.Errorf("%s lacks reading %d", p.name, i)
			}
		}
	}
	// The forged frame and the replay reached the SCADA server, which
	// refused and counted both.
	if want := fmt.Sprintf("scada: %d delivered, 2 refused", readings+1); !strings.Contains(scada.output(), want) {
		t.Errorf("SCADA counters: want %q:\n%s", want, scada.output())
	}
}
