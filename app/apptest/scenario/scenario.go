// Package scenario runs plain-text, multi-block scenarios (the files under
// sm/exec/testdata) against anything that executes medchain blocks: the
// pure core (sm/exec) or the ABCI application (app). Each file is a list of
// commands in the format of github.com/cockroachdb/datadriven, as etcd's
// raft tests use; `go test -rewrite` regenerates the expected output.
//
// Commands:
//
//	init                      genesis of apptest's network; prints the app hash
//	block [advance=DURATION]  one block; every input line is a transaction;
//	                          prints each transaction's result and events,
//	                          validator updates and the app hash
//	check                     CheckTx of each input line (new, not a recheck)
//
// A transaction line is `SIGNER MSG [key=value...]`, where SIGNER names an
// apptest key and MSG a message builder (see messages). Envelope options:
// seq=N (default: the signer's next sequence, counted as apptest.Harness
// does), fee=N, chain=ID, badsig, bundle=N (consecutive lines with the same
// N travel in one bundle). The line `malformed-bundle` is a bundle that does
// not decode.
//
// The package is for tests: it is imported only from _test files.
package scenario

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/medchain/medchain/app/apptest"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/gov"
)

// Result is the outcome of one transaction (or of a malformed bundle).
type Result struct {
	Code      uint32
	Codespace string
	Log       string
	Events    []sm.Event
}

// Block is what a driver reports of one executed block.
type Block struct {
	// Txs are the results of the block's transactions, bundles flattened.
	Txs []Result
	// Bundles are the results of CometBFT transactions that are malformed
	// bundles, by their position in the block.
	Bundles map[int]Result
	Valset  []sm.ValidatorUpdate
	AppHash []byte
}

// Driver executes blocks for a scenario. A driver starts from an empty
// state; Init runs apptest's genesis.
type Driver interface {
	Init(t *testing.T) (appHash []byte)
	// Block executes and commits txs (CometBFT transactions) at the next
	// height, whose block time is given.
	Block(t *testing.T, height int64, at time.Time, txs [][]byte) Block
	Check(t *testing.T, tx []byte) Result
	// State is the committed state.
	State() store.Reader
}

// Run runs every scenario file in dir against a fresh driver per file.
func Run(t *testing.T, dir string, newDriver func(t *testing.T) Driver) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		r := &runner{d: newDriver(t), seqs: map[crypto.Address]uint64{}, at: apptest.GenesisTime}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			return r.do(t, td)
		})
	})
}

type runner struct {
	d      Driver
	height int64
	at     time.Time
	seqs   map[crypto.Address]uint64
}

func (r *runner) do(t *testing.T, td *datadriven.TestData) string {
	switch td.Cmd {
	case "init":
		hash := r.d.Init(t)
		if err := bank.CheckInvariant(r.d.State()); err != nil {
			td.Fatalf(t, "after genesis: %v", err)
		}
		return fmt.Sprintf("app_hash %X\n", hash)
	case "block":
		var advance time.Duration
		for _, a := range td.CmdArgs {
			if a.Key == "advance" {
				d, err := time.ParseDuration(a.Vals[0])
				if err != nil {
					td.Fatalf(t, "advance: %v", err)
				}
				advance = d
			}
		}
		txs := r.txs(t, td)
		r.height++
		r.at = r.at.Add(apptest.BlockInterval + advance)
		b := r.d.Block(t, r.height, r.at, txs)
		if err := bank.CheckInvariant(r.d.State()); err != nil {
			td.Fatalf(t, "after block %d: %v", r.height, err)
		}
		var out strings.Builder
		for _, k := range slices.Sorted(mapKeys(b.Bundles)) {
			fmt.Fprintf(&out, "bundle %d: %s\n", k, outcome(b.Bundles[k]))
		}
		for i, res := range b.Txs {
			fmt.Fprintf(&out, "tx %d: %s\n", i, outcome(res))
			writeEvents(&out, res.Events)
		}
		for _, u := range b.Valset {
			fmt.Fprintf(&out, "valset %s power=%d\n", u.PubKey, u.Power)
		}
		fmt.Fprintf(&out, "app_hash %X\n", b.AppHash)
		return out.String()
	case "check":
		var out strings.Builder
		for _, line := range lines(td.Input) {
			raw, _ := r.tx(t, td, line)
			fmt.Fprintf(&out, "%s\n", outcome(r.d.Check(t, raw)))
		}
		return out.String()
	}
	td.Fatalf(t, "unknown command %q", td.Cmd)
	return ""
}

func mapKeys(m map[int]Result) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func outcome(r Result) string {
	if r.Code == 0 {
		return "ok"
	}
	return fmt.Sprintf("%s/%d %s", r.Codespace, r.Code, r.Log)
}

func writeEvents(out *strings.Builder, evs []sm.Event) {
	for _, e := range evs {
		fmt.Fprintf(out, "  %s", e.Type)
		for _, a := range e.Attrs {
			fmt.Fprintf(out, " %s=%s", a.Key, a.Value)
		}
		out.WriteString("\n")
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// txs builds a block's CometBFT transactions from the input lines.
func (r *runner) txs(t *testing.T, td *datadriven.TestData) [][]byte {
	var out [][]byte
	var bundle [][]byte
	open := ""
	flush := func() {
		if len(bundle) > 0 {
			out = append(out, sm.EncodeBundle(bundle))
		}
		bundle, open = nil, ""
	}
	for _, line := range lines(td.Input) {
		if line == "malformed-bundle" { // the bundle marker with no transaction
			flush()
			out = append(out, []byte{sm.TxFormatBundle})
			continue
		}
		raw, group := r.tx(t, td, line)
		if group != open {
			flush()
		}
		if group == "" {
			out = append(out, raw)
			continue
		}
		open = group
		bundle = append(bundle, raw)
	}
	flush()
	return out
}

// tx builds one transaction from a line; group is its bundle=N, if any.
func (r *runner) tx(t *testing.T, td *datadriven.TestData, line string) (raw []byte, group string) {
	f := strings.Fields(line)
	if len(f) < 2 {
		td.Fatalf(t, "transaction line %q: want SIGNER MSG [key=value...]", line)
	}
	key := apptest.Key(f[0])
	args := map[string]string{}
	for _, kv := range f[2:] {
		k, v, _ := strings.Cut(kv, "=")
		args[k] = v
	}
	build, ok := messages[f[1]]
	if !ok {
		td.Fatalf(t, "unknown message %q (known: %v)", f[1], knownMessages())
	}
	msg, err := build(key, args)
	if err != nil {
		td.Fatalf(t, "%s: %v", line, err)
	}
	chainID := apptest.ChainID
	if c, ok := args["chain"]; ok {
		chainID = c
	}
	var seq uint64
	if s, ok := args["seq"]; ok {
		seq = num(t, td, s)
	} else {
		seq = r.nextSeq(key.Address())
		r.seqs[key.Address()] = seq + 1
	}
	var fee uint64
	if s, ok := args["fee"]; ok {
		fee = num(t, td, s)
	}
	raw = sm.SignTx(key, chainID, seq, fee, msg)
	if _, ok := args["badsig"]; ok {
		raw[len(raw)-1] ^= 1
	}
	if _, ok := args["resync"]; ok {
		delete(r.seqs, key.Address())
	}
	return raw, args["bundle"]
}

func (r *runner) nextSeq(a crypto.Address) uint64 {
	if s, ok := r.seqs[a]; ok {
		return s
	}
	if acct := accounts.GetAccount(r.d.State(), a); acct != nil {
		return acct.Sequence
	}
	return 0
}

func num(t *testing.T, td *datadriven.TestData, s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		td.Fatalf(t, "number %q: %v", s, err)
	}
	return n
}

// messages build a message from the signer's key and the line's arguments;
// keys named in arguments are apptest keys.
var messages = map[string]func(key *crypto.PrivKey, args map[string]string) (sm.Msg, error){
	"register_patient": func(key *crypto.PrivKey, _ map[string]string) (sm.Msg, error) {
		return &accounts.MsgRegisterPatient{EncKey: key.EncKey()}, nil
	},
	"register_member": func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		k := apptest.Key(a["key"])
		return &accounts.MsgRegisterMember{PubKey: k.PubKey(), EncKey: k.EncKey(), Role: a["role"]}, nil
	},
	"set_guardian": func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		return &accounts.MsgSetGuardian{Guardian: apptest.Key(a["guardian"]).Address()}, nil
	},
	"grant": func(key *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		m := &consent.MsgGrant{Patient: key.Address(), Actions: consent.ActRead, Purpose: a["purpose"]}
		if p, ok := a["patient"]; ok {
			m.Patient = apptest.Key(p).Address()
		}
		switch {
		case a["org"] != "":
			m.Grantee = consent.Org(a["org"])
		default:
			m.Grantee = consent.Account(apptest.Key(a["grantee"]).Address())
		}
		if ty := a["types"]; ty != "" {
			m.Types = strings.Split(ty, ",")
		}
		if a["write"] != "" {
			m.Actions |= consent.ActWrite
		}
		if u := a["until"]; u != "" {
			n, err := strconv.ParseInt(u, 10, 64)
			if err != nil {
				return nil, err
			}
			m.Until = n
		}
		return m, nil
	},
	"revoke": func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		id, err := strconv.ParseUint(a["id"], 10, 64)
		return &consent.MsgRevoke{ID: id}, err
	},
	"propose_param": func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		v, err := strconv.ParseUint(a["value"], 10, 64)
		return &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: a["param"], Value: v}, Reason: a["reason"]}, err
	},
	"propose_validator": func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		p, err := strconv.ParseInt(a["power"], 10, 64)
		return &gov.MsgPropose{Action: gov.Action{Kind: gov.KindAddValidator, OrgID: a["org"], Validator: apptest.Key(a["key"]).PubKey(), Power: p}, Reason: a["reason"]}, err
	},
	"vote": func(_ *crypto.PrivKey, a map[string]string) (sm.Msg, error) {
		id, err := strconv.ParseUint(a["id"], 10, 64)
		return &gov.MsgVote{ProposalID: id, Approve: a["approve"] != "false"}, err
	},
}

func knownMessages() []string {
	out := make([]string, 0, len(messages))
	for k := range messages {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
