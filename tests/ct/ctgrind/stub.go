//go:build !valgrind

// Command ctgrind needs the valgrind build tag (and the valgrind headers);
// without it this stub keeps `go build ./...` and `go vet ./...` working on
// machines that do not have Valgrind. scripts/ct.sh builds the real one.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "ctgrind: build with -tags valgrind (scripts/ct.sh does)")
	os.Exit(2)
}
