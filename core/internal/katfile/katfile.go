// Package katfile reads NIST known-answer response files (.rsp): blocks of
// "name = value" lines separated by blank lines. It is for tests only.
package katfile

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Entry is one block of a response file, keyed by field name.
type Entry map[string]string

// Bytes decodes a hex field; it panics on a missing or malformed field
// because a broken vector file must fail the test loudly.
func (e Entry) Bytes(name string) []byte {
	v, ok := e[name]
	if !ok {
		panic(fmt.Sprintf("katfile: entry has no field %q", name))
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		panic(fmt.Sprintf("katfile: field %q: %v", name, err))
	}
	return b
}

// Int decodes a decimal field.
func (e Entry) Int(name string) int {
	n, err := strconv.Atoi(e[name])
	if err != nil {
		panic(fmt.Sprintf("katfile: field %q: %v", name, err))
	}
	return n
}

// Read parses every entry of the file at path. Lines starting with '#' are
// comments.
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries []Entry
	cur := Entry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if line == "" {
			if len(cur) > 0 {
				entries = append(entries, cur)
				cur = Entry{}
			}
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("katfile: %s: malformed line %q", path, line)
		}
		cur[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	if len(cur) > 0 {
		entries = append(entries, cur)
	}
	return entries, sc.Err()
}
