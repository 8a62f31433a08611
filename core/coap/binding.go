package coap

import (
	"crypto/sha256"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
)

// bindingLabel separates our bindings from any other signed or encrypted
// data under the same keys.
const bindingLabel = "pqc-iiot/coap/v1"

// Roles in a binding.
const (
	roleRequest  = 0
	roleResponse = 1
)

// hopOptions are rewritten per hop or per block by CoAP itself and are left
// out of the binding (with the block-wise transfer ids Request-Tag and
// optTransfer); every other option is bound, so a proxy-ish option
// (Uri-Host, Proxy-Uri) or a conditional (If-Match) cannot be added,
// removed or changed. Uri-Path, Uri-Query, Content-Format and Observe are
// bound as their own fields.
var hopOptions = map[message.OptionID]bool{
	message.Block1: true, message.Block2: true, message.Size1: true, message.Size2: true,
	19: true, 31: true, // Q-Block1, Q-Block2 (RFC 9177)
	message.RequestTag: true, optTransfer: true, // block-wise transfer ids (blocks.go)
	message.URIPath: true, message.URIQuery: true, message.ContentFormat: true, message.Observe: true,
}

// meta is what of a CoAP message a binding covers, besides the payload.
type meta struct {
	code    codes.Code
	path    string
	query   []string
	token   []byte
	observe int64 // -1: no Observe option
	opts    [][2][]byte
}

func metaOf(m *pool.Message) (meta, error) {
	md := meta{code: m.Code(), token: append([]byte(nil), m.Token()...), observe: -1}
	if isRequestCode(m.Code()) {
		p, err := m.Path()
		if err != nil {
			p = "/"
		}
		md.path = p
		md.query, _ = m.Queries()
	}
	if o, err := m.Observe(); err == nil {
		md.observe = int64(o)
	}
	for _, o := range m.Options() {
		if !hopOptions[o.ID] {
			md.opts = append(md.opts, [2][]byte{{byte(o.ID >> 8), byte(o.ID)}, o.Value})
		}
	}
	return md, nil
}

var detEnc = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// binding is the deterministic CBOR array every mode authenticates with a
// message: [label, role, code, path, query, content-format / null, token,
// observe / null, other options, request digest]. path and query are the
// request's (a response carries none; the client supplies its own), and
// reqDigest ties a response or notification to the exact protected
// request it answers.
func binding(role int, m *meta, cf int, reqDigest []byte) []byte {
	var cfv, obs any
	if cf != NoContentFormat {
		cfv = uint64(cf)
	}
	if m.observe >= 0 {
		obs = uint64(m.observe)
	}
	q := m.query
	if q == nil {
		q = []string{}
	}
	opts := m.opts
	if opts == nil {
		opts = [][2][]byte{}
	}
	if reqDigest == nil {
		reqDigest = []byte{}
	}
	b, err := detEnc.Marshal([]any{bindingLabel, role, uint64(m.code), m.path, q, cfv, m.token, obs, opts, reqDigest})
	if err != nil {
		// Only encodable types go in: a failure is a programming error.
		panic(fmt.Sprintf("coap: binding: %v", err))
	}
	return b
}

// outerCode is the code a protected request travels with: FETCH for GET
// (safe and observable, RFC 8132), POST for every other method, as OSCORE
// does (RFC 8613 §4.1.3.5). A protected GET or DELETE needs a payload
// (signatures, ratchet keys) that may exceed one block, and CoAP block-wise
// transfer only carries request payloads of body methods. The real method
// is protected and bound; the receiver checks the outer code matches it.
func outerCode(c codes.Code) codes.Code {
	if c == codes.GET {
		return codes.FETCH
	}
	return codes.POST
}

// isRequestCode reports whether c is a method code.
func isRequestCode(c codes.Code) bool { return c >= codes.GET && c <= codes.IPATCH }

// digest names a protected request for the responses to it.
func digest(protected []byte) []byte {
	d := sha256.Sum256(protected)
	return d[:16]
}

// forResponse is the request's meta as a response to it is bound: the
// response's own code, token and options, the request's path and query.
func (m *meta) forResponse(resp *meta) *meta {
	r := *resp
	r.path, r.query = m.path, m.query
	return &r
}
