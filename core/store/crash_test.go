package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const crashEnv = "PQC_STORE_CRASH_DIR"

// crashValue is what the writer stores for counter value c: its length
// varies so that pages split and merge, and its content lets the checker
// recognise a torn or mixed-up value.
func crashValue(c uint64) []byte {
	head := fmt.Sprintf("value-for-%d;", c)
	return append([]byte(head), bytes.Repeat([]byte{byte(c)}, int(c%7)*700)...)
}

// TestHelperWriter is the child process of TestCrashSafety; run directly it
// does nothing. It writes as fast as it can until killed, printing a line
// after each write returns, i.e. once the write is durable and acknowledged.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("child process of TestCrashSafety")
	}
	s, err := Open(filepath.Join(dir, "ks"), RawKey(testRawKey),
		&Options{Anchor: NewFileAnchor(filepath.Join(dir, "anchor")), Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	// os.Stdout is unbuffered: each Fprintf is one write(2), so the parent
	// never sees a line for a write that did not return.
	fmt.Fprintf(os.Stdout, "READY %d\n", s.Generation())
	for i := 0; ; i++ {
		var c, d uint64
		err := s.Update(func(tx *Tx) error {
			var err error
			if c, err = tx.Increment("c", 1); err != nil {
				return err
			}
			if d, err = tx.Increment("d", 3); err != nil {
				return err
			}
			if err := tx.Put("last", []byte(strconv.FormatUint(c, 10))); err != nil {
				return err
			}
			if err := tx.Put(fmt.Sprintf("rec/%02d", c%32), crashValue(c)); err != nil {
				return err
			}
			if c%5 == 0 {
				if err := tx.Delete(fmt.Sprintf("rec/%02d", (c+16)%32)); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "child update:", err)
			os.Exit(4)
		}
		solo, err := s.Increment("solo", 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child increment:", err)
			os.Exit(5)
		}
		fmt.Fprintf(os.Stdout, "C %d %d %d %d\n", c, d, solo, s.Generation())
	}
}

type committed struct{ c, d, solo, gen uint64 }

func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("inside the child")
	}
	rounds, budget := 50, 90*time.Second
	if testing.Short() {
		rounds = 10
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ks")
	anchor := NewFileAnchor(filepath.Join(dir, "anchor"))
	ks := RawKey(testRawKey)
	mustClose(t, mustCreate(t, path, ks, &Options{Anchor: anchor}))

	var last committed // highest values ever reported by any child
	var prevGen uint64
	var kills, midWrite, repairs, commits int
	start := time.Now()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	round := 0
	for ; round < rounds && time.Since(start) < budget; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The kill comes after a random number of acknowledged writes (0-15)
		// plus a random 0-3 ms, so it lands before, inside and between
		// commits without long sleeps.
		wantLines := rng.IntN(16)
		ready := make(chan struct{})
		done := make(chan []committed)
		go func() {
			var seen []committed
			sc := bufio.NewScanner(out)
			first := true
			signal := func() {
				if first {
					first = false
					close(ready)
				}
			}
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 2 && f[0] == "READY" && wantLines == 0 {
					signal()
					continue
				}
				if len(f) != 5 || f[0] != "C" {
					continue
				}
				var v [4]uint64
				for i := range v {
					v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
				}
				seen = append(seen, committed{v[0], v[1], v[2], v[3]})
				if len(seen) == wantLines {
					signal()
				}
			}
			signal()
			done <- seen
		}()
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: child never became ready; stderr:\n%s", round, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		seen := <-done
		werr := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die by SIGKILL: %v; stderr:\n%s", round, werr, stderr.String())
		}
		commits += len(seen)
		for _, c := range seen {
			if c.c < last.c || c.solo < last.solo || c.gen <= last.gen {
				t.Fatalf("round %d: child reported %+v after %+v: went backwards", round, c, last)
			}
			last = c
		}

		// Check the file bbolt sees is internally consistent.
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			t.Fatalf("round %d: bbolt open: %v", round, err)
		}
		db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				t.Errorf("round %d: bbolt check: %v", round, err)
			}
			return nil
		})
		db.Close()

		a0, _ := anchor.Read()
		s, err := Open(path, ks, &Options{Anchor: anchor})
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		g := s.Generation()
		if a0 < g {
			repairs++ // killed between commit and Advance
		}
		if len(seen) > 0 && g != seen[len(seen)-1].gen {
			midWrite++ // something committed after the last acknowledged write
		}
		c, _ := s.Counter("c")
		d, _ := s.Counter("d")
		solo, _ := s.Counter("solo")
		switch {
		case g < prevGen || g < last.gen:
			t.Fatalf("round %d: generation %d, previously %d, last acknowledged %d", round, g, prevGen, last.gen)
		case c < last.c || solo < last.solo:
			t.Fatalf("round %d: counters c=%d solo=%d below acknowledged %+v", round, c, solo, last)
		case d != 3*c:
			t.Fatalf("round %d: c=%d d=%d: half of an Update survived", round, c, d)
		}
		names, _ := s.List("")
		for _, n := range names {
			v, err := s.Get(n)
			if err != nil {
				t.Fatalf("round %d: Get(%q): %v", round, n, err)
			}
			switch {
			case n == "last":
				if string(v) != strconv.FormatUint(c, 10) {
					t.Fatalf("round %d: last=%q but c=%d", round, v, c)
				}
			case strings.HasPrefix(n, "rec/"):
				var k uint64
				fmt.Sscanf(string(v), "value-for-%d;", &k)
				if k > c || !bytes.Equal(v, crashValue(k)) || n != fmt.Sprintf("rec/%02d", k%32) {
					t.Fatalf("round %d: %s holds a torn or misplaced value (%d bytes, c=%d)", round, n, len(v), c)
				}
			}
		}
		prevGen = g
		last.c, last.solo, last.gen = max(last.c, c), max(last.solo, solo), max(last.gen, g)
		mustClose(t, s)
	}
	if round < rounds {
		t.Logf("time budget reached after %d of %d rounds", round, rounds)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(left) > 1 {
		t.Errorf("temporary files pile up: %v", left)
	}
	if kills < round*9/10 {
		t.Fatalf("only %d of %d rounds killed a running child", kills, round)
	}
	t.Logf("crash test: %d rounds, %d SIGKILLs, %d acknowledged writes, %d kills after an unacknowledged commit, %d anchor repairs on open, final generation %d, counter c=%d, %v",
		round, kills, commits, midWrite, repairs, prevGen, last.c, time.Since(start).Round(time.Millisecond))
}
