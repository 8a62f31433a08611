package coap

import (
	"slices"
	"strings"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Rule allows some methods on some paths. Path is a path prefix on segment
// boundaries ("/sensors" covers "/sensors" and "/sensors/t1", not
// "/sensorsX"); "/#" or "#" covers every path. No methods means all.
type Rule struct {
	Path    string
	Methods []codes.Code
}

// ACL decides, after authentication and before the handler, whether a
// sender may use a method on a path. A request no rule allows gets 4.03.
type ACL struct {
	// Identities maps a sender (device id, DTLS PSK identity or X.509
	// common name) to its rules; "*" applies to every authenticated sender.
	Identities map[string][]Rule
	// Roles maps a certificate role (claim -6 of the sender's certificate,
	// as accepted in Trust) to rules.
	Roles map[string][]Rule
	// CertificateGrants honours the path grants of the sender's
	// certificate (claim -7, TopicPermission with a CoAP path as Filter):
	// Subscribe allows GET and FETCH (and Observe), Publish allows POST,
	// PUT, DELETE, PATCH and iPATCH.
	CertificateGrants bool
	// Trust supplies certificates for Roles and CertificateGrants; the
	// server sets it from Config.Trust when nil.
	Trust *identity.Trust
}

// Allows reports whether sender may use method on path.
func (a *ACL) Allows(sender string, method codes.Code, path string) bool {
	if a == nil {
		return true
	}
	if sender == "" {
		return false
	}
	if matchRules(a.Identities[sender], method, path) || matchRules(a.Identities["*"], method, path) {
		return true
	}
	if a.Trust == nil || (len(a.Roles) == 0 && !a.CertificateGrants) {
		return false
	}
	for _, c := range certsOf(a.Trust, sender) {
		for _, r := range c.Roles {
			if matchRules(a.Roles[r], method, path) {
				return true
			}
		}
		if a.CertificateGrants && grantAllows(c.Topics, method, path) {
			return true
		}
	}
	return false
}

// certsOf returns the sender's current certificate and, during a rotation
// overlap, the previous one.
func certsOf(t *identity.Trust, sender string) []*identity.Certificate {
	p, ok := t.Peer(sender)
	if !ok {
		return nil
	}
	var out []*identity.Certificate
	for _, a := range []*identity.Announcement{p.Current, p.Previous} {
		if a != nil && a.Cert != nil {
			out = append(out, a.Cert)
		}
	}
	return out
}

func matchRules(rules []Rule, method codes.Code, path string) bool {
	for _, r := range rules {
		if pathCovered(r.Path, path) && (len(r.Methods) == 0 || slices.Contains(r.Methods, method)) {
			return true
		}
	}
	return false
}

func grantAllows(grants []identity.TopicPermission, method codes.Code, path string) bool {
	read := method == codes.GET || method == codes.FETCH
	for _, g := range grants {
		if pathCovered(g.Filter, path) && (read && g.Subscribe || !read && g.Publish) {
			return true
		}
	}
	return false
}

// pathCovered is prefix matching on '/' boundaries; "#" and "/#" cover all.
func pathCovered(prefix, path string) bool {
	if prefix == "#" || prefix == "/#" {
		return true
	}
	// Compared in place, without building "/"-prefixed copies: the same
	// rule, and no short-lived concatenations for valgrind to misread.
	prefix, path = strings.Trim(prefix, "/"), strings.Trim(path, "/")
	if prefix == "" {
		return true
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}
