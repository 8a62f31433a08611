// Command pqc-iiot provisions and inspects a pqc-iiot fleet: a CA, devices
// joining it, fleet policy and revocation, and any object of ours decoded
// to JSON.
//
// Exit status: 0 success, 1 failure, 2 usage error, 3 refused (a signature,
// certificate, policy or revocation check failed).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitRefused = 3
)

// command is one subcommand: its flags are defined by setup, run does it.
type command struct {
	name    string
	summary string
	run     func(env *env, args []string) error
}

// env is what commands write to; tests swap it.
type env struct {
	stdout, stderr io.Writer
}

var commands = []command{
	{"ca init", "create a root CA: its keystore and its certificate (the trust anchor)", caInit},
	{"ca allow", "add a device's factory key to the CA's allow-list", caAllow},
	{"ca enroll", "process a join or renewal request into a certificate chain", caEnroll},
	{"ca issue", "same as 'ca enroll'", caEnroll},
	{"device init", "create a device keystore with a factory key", deviceInit},
	{"device join", "make a join request (new operational keys, signed by the factory key)", deviceJoin},
	{"device install", "install the certificate chain the CA issued", deviceInstall},
	{"device rotate", "make a renewal request for the next key epoch", deviceRotate},
	{"device show", "print the device's identity as JSON", deviceShow},
	{"device prune", "destroy the previous epoch's keys once the overlap is over", devicePrune},
	{"policy sign", "sign a fleet policy with the CA key", policySign},
	{"revoke", "add keys to the CA's cumulative revocation list and sign it", revoke},
	{"inspect", "decode any pqc-iiot object to JSON, optionally verifying it", inspect},
	{"publish-policy", "publish a CA-signed policy, retained, through an MQTT broker", publishPolicy},
	{"publish-revocation", "publish a CA-signed revocation list, retained, through an MQTT broker", publishRevocation},
	{"control serve", "run the control plane: publish policy and revocation retained, answer devices' sync requests until SIGINT/SIGTERM", controlServe},
	{"demo", "run the MQTT showcase: sensor and SCADA over a post-quantum session, attacks rejected", demo},
	{"keygen", "generate a raw key pair for any registered algorithm", keygen},
}

func main() {
	os.Exit(run(&env{stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:]))
}

func run(e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, rest := find(args)
	if cmd == nil {
		fmt.Fprintf(e.stderr, "pqc-iiot: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		usage(e.stderr)
		return exitUsage
	}
	err := cmd.run(e, rest)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "pqc-iiot %s: %v\n", cmd.name, err)
		return exitUsage
	case refused(err):
		fmt.Fprintf(e.stderr, "pqc-iiot %s: refused: %v\n", cmd.name, err)
		return exitRefused
	default:
		fmt.Fprintf(e.stderr, "pqc-iiot %s: %v\n", cmd.name, err)
		return exitFailure
	}
}

func find(args []string) (*command, []string) {
	for i := range commands {
		words := strings.Fields(commands[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == commands[i].name {
			return &commands[i], args[len(words):]
		}
	}
	return nil, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pqc-iiot COMMAND [flags]   (pqc-iiot COMMAND --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for _, c := range commands {
		names = append(names, fmt.Sprintf("  %-16s %s", c.name, c.summary))
	}
	sort.Strings(names)
	fmt.Fprintln(w, strings.Join(names, "\n"))
	fmt.Fprintln(w, "\nKeystores are encrypted with a passphrase from --passphrase-file or $PQC_IIOT_PASSPHRASE.")
	fmt.Fprintln(w, "Exit status: 0 ok, 1 failure, 2 usage, 3 refused by a security check.")
}

var errUsage = errors.New("usage")

// refused tells verification failures from other errors: they get their
// own exit status so scripts can react to "the CA said no".
func refused(err error) bool {
	for _, s := range []error{
		identity.ErrBadSignature, identity.ErrUnknownIssuer, identity.ErrNotCA, identity.ErrPathLength,
		identity.ErrExpired, identity.ErrNotYetValid, identity.ErrRevoked, identity.ErrLowerEpoch,
		identity.ErrEpochConflict, identity.ErrReplay, identity.ErrStaleRequest, identity.ErrNotAllowed,
		identity.ErrAlgorithmNotAllowed, identity.ErrPolicyMissing, identity.ErrPolicyStale,
		identity.ErrRollback, identity.ErrRevocationStale, identity.ErrContextMismatch, identity.ErrMalformed,
		identity.ErrWrongKind, identity.ErrTooLarge, identity.ErrNoCertificate,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// flagSet is a flag.FlagSet whose help goes to stdout and whose parse
// errors come back as usage errors for run to report.
type flagSet struct {
	*flag.FlagSet
	help func()
}

func newFlags(e *env, name, summary string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	help := func() {
		fs.SetOutput(e.stdout)
		fmt.Fprintf(e.stdout, "usage: pqc-iiot %s [flags]\n\n%s\n\nflags:\n", name, summary)
		fs.PrintDefaults()
	}
	// The flag package prints on its own during Parse; we print ourselves.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, help: help}
}

// parse parses flags with no positional arguments and checks required ones.
func parse(fs *flagSet, args []string, required ...string) error {
	return parseN(fs, args, 0, required...)
}

// parseN also takes exactly n positional arguments.
func parseN(fs *flagSet, args []string, n int, required ...string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.help()
		return err
	}
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	if fs.NArg() != n {
		return fmt.Errorf("want %d positional arguments, got %d: %w", n, fs.NArg(), errUsage)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, r := range required {
		if !set[r] {
			return fmt.Errorf("--%s is required: %w", r, errUsage)
		}
	}
	return nil
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
