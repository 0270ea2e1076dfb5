package sm_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/medchain/medchain/codec"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files in testdata/")

// Vector is one transaction test vector of docs/transactions.md: everything
// another implementation needs to check its encoder and signer.
type Vector struct {
	Name      string `json:"name"`
	SignSeed  string `json:"sign_seed"`
	EncSeed   string `json:"enc_seed"`
	PubKey    string `json:"pub_key"`
	Address   string `json:"address"`
	ChainID   string `json:"chain_id"`
	Sequence  uint64 `json:"sequence"`
	Fee       uint64 `json:"fee"`
	Type      string `json:"type"`
	Msg       string `json:"msg_hex"`
	Body      string `json:"body_hex"`
	SignBytes string `json:"sign_bytes_hex"`
	Signature string `json:"signature_hex"`
	Tx        string `json:"tx_hex"`
	TxHash    string `json:"tx_hash"`
}

func seedKey(t *testing.T, b byte) *crypto.PrivKey {
	t.Helper()
	k, err := crypto.KeyFromSeeds(bytes.Repeat([]byte{b}, 32), bytes.Repeat([]byte{b + 1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func buildVectors(t *testing.T) []Vector {
	patient := seedKey(t, 0x01)
	guardian := seedKey(t, 0x11)
	admin := seedKey(t, 0x21)
	cases := []struct {
		name string
		key  *crypto.PrivKey
		seq  uint64
		fee  uint64
		msg  sm.Msg
	}{
		{"register a patient", patient, 0, 0, &accounts.MsgRegisterPatient{EncKey: patient.EncKey()}},
		{"name a guardian", patient, 1, 0, &accounts.MsgSetGuardian{Guardian: guardian.Address()}},
		{"register a practitioner, with a fee", admin, 7, 250, &accounts.MsgRegisterMember{PubKey: guardian.PubKey(), EncKey: guardian.EncKey(), Role: accounts.RolePractitioner}},
		{"vote on a proposal", admin, 8, 0, &gov.MsgVote{ProposalID: 300, Approve: true}},
		{"propose a parameter change", admin, 9, 0, &gov.MsgPropose{Action: gov.Action{Kind: gov.KindSetParam, Param: "gov.voting_period_seconds", Value: 86400}, Reason: "one day is enough"}},
	}
	var out []Vector
	for _, c := range cases {
		ss, es := c.key.Seeds()
		msg := codec.Marshal(c.msg)
		body := codec.Marshal(sm.Body{ChainID: "medchain-vectors", Signer: c.key.PubKey(), Sequence: c.seq, Fee: c.fee, Type: c.msg.Type(), Msg: msg})
		sig := c.key.Sign(sm.SignBytes(body))
		tx := sm.EncodeTx(body, sig)
		h := sm.TxHash(tx)
		out = append(out, Vector{
			Name: c.name, SignSeed: hex.EncodeToString(ss), EncSeed: hex.EncodeToString(es),
			PubKey: c.key.PubKey().String(), Address: c.key.Address().String(),
			ChainID: "medchain-vectors", Sequence: c.seq, Fee: c.fee, Type: c.msg.Type(),
			Msg: hex.EncodeToString(msg), Body: hex.EncodeToString(body), SignBytes: hex.EncodeToString(sm.SignBytes(body)),
			Signature: hex.EncodeToString(sig), Tx: hex.EncodeToString(tx), TxHash: strings.ToUpper(hex.EncodeToString(h[:])),
		})
		// SignTx must produce exactly the same bytes.
		if got := sm.SignTx(c.key, "medchain-vectors", c.seq, c.fee, c.msg); !bytes.Equal(got, tx) {
			t.Fatalf("%s: SignTx differs from the spelled-out encoding", c.name)
		}
	}
	return out
}

// TestVectors checks the transaction encoding against the checked-in vectors
// that docs/transactions.md publishes (go test ./sm -run TestVectors -rewrite
// regenerates them after a deliberate format change).
func TestVectors(t *testing.T) {
	got := buildVectors(t)
	path := "testdata/tx_vectors.json"
	if *rewrite {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []Vector
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d vectors in %s, built %d", len(want), path, len(got))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("vector %q changed:\n got %+v\nwant %+v", want[i].Name, got[i], want[i])
		}
		// Every vector decodes and verifies.
		raw, _ := hex.DecodeString(want[i].Tx)
		tx, err := sm.DecodeTx(raw)
		if err != nil {
			t.Fatalf("%s: %v", want[i].Name, err)
		}
		if !crypto.Verify(tx.Body.Signer, sm.SignBytes(tx.BodyBytes), tx.Sig) {
			t.Errorf("%s: signature does not verify", want[i].Name)
		}
	}
}
