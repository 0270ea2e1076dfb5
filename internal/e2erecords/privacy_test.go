package e2erecords

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// secret is one thing that must not be found, in every form it is searched in.
type secret struct {
	name  string
	forms map[string][]byte // form name → bytes
}

// newSecret builds the forms of s searched for: its bytes, lower- and
// upper-case hex, and standard and URL base64 at each of the three
// alignments a substring of a larger encoded text can have. Base64 forms of
// secrets shorter than 12 bytes are left out: their few stable characters
// would match encoded random data by chance.
func newSecret(name string, s []byte) secret {
	sc := secret{name: name, forms: map[string][]byte{
		"raw": s,
		"hex": []byte(hex.EncodeToString(s)),
		"HEX": []byte(strings.ToUpper(hex.EncodeToString(s))),
	}}
	if esc := url.PathEscape(string(s)); esc != string(s) {
		sc.forms["url-escaped"] = []byte(esc)
	}
	if len(s) < 12 {
		return sc
	}
	for align := range 3 {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString(append(make([]byte, align), s...))
			// Drop the characters that depend on the bytes before or after s.
			start := 0
			if align > 0 {
				start = 4
			}
			end := len(e) - 4
			if end-start >= 8 {
				kind := "base64"
				if enc == base64.URLEncoding {
					kind = "base64url"
				}
				sc.forms[fmt.Sprintf("%s@%d", kind, align)] = []byte(e[start:end])
			}
		}
	}
	return sc
}

// find lists the secrets (and forms) found in data.
func find(secrets []secret, data []byte) []string {
	var out []string
	for _, s := range secrets {
		for form, b := range s.forms {
			if bytes.Contains(data, b) {
				out = append(out, fmt.Sprintf("%s (%s)", s.name, form))
			}
		}
	}
	return out
}

// plaintextSecrets are distinctive pieces of the Zorblax Observation, as
// they would appear in any text or binary that leaked it: the fictional
// patient's name, the LOINC code and the value in their JSON context (bare,
// "4548-4" or "6.7123" could occur by chance in a UUID or a timestamp of
// a log line or an RPC answer).
func plaintextSecrets() []secret {
	return []secret{
		newSecret("patient name", []byte("Zorblax Quintavius")),
		newSecret("given name", []byte("Zorblax")),
		newSecret("family name", []byte("Quintavius")),
		newSecret("LOINC code", []byte(`"4548-4"`)),
		newSecret("value", []byte(`"value": 6.7123`)),
		newSecret("value (compact JSON)", []byte(`"value":6.7123`)),
		newSecret("value (FHIR proto)", []byte(`value:"6.7123"`)),
	}
}

// binarySecrets adds the bare code and value, for binary data (transactions,
// state) where no text of that shape occurs otherwise.
func binarySecrets() []secret {
	return append(plaintextSecrets(),
		newSecret("bare LOINC code", []byte("4548-4")),
		newSecret("bare value", []byte("6.7123")))
}

// testNoPlaintext: after a lab writes an Observation about "Zorblax
// Quintavius" and it is shared, read and refused, neither its plaintext nor
// any of its ciphertext is found in any block (API and CometBFT RPC, each
// transaction decoded), in any state key or value of either node, in the
// nodes' debug logs; and the blob files on disk are ciphertext. Nor is the
// free text testEmergency tried to give as an emergency's reason or review.
func testNoPlaintext(t *testing.T, nw *localNet) {
	mc := nw.cli(0)
	const who = "privacy-patient"
	mc.newPatient(t, who)
	doc1, doc2 := mc.addr(t, "doctor1"), mc.addr(t, "doctor2")
	file, plain := mc.fixtureFor(t, "observation-hba1c-zorblax.json", who)
	mc.grant(t, "--from", who, "--to", "labtech1", "--actions", "write", "--types", "Observation")
	id := mc.addRecord(t, "labtech1", who, file)
	mc.grant(t, "--from", who, "--to", "doctor1", "--actions", "read", "--types", "Observation")
	nw.sync(t)
	if got := mc.at(nw.apis[1]).read(t, "doctor1", id); !bytes.Equal(got, plain) {
		t.Fatalf("doctor1 read %d bytes that differ from the %d written", len(got), len(plain))
	}
	mc.fails(t, "record", "get", "--from", "doctor2", id)
	mc.waitAudit(t, who, hasAll(
		eventMatch{accessor: doc1, record: id, served: true},
		eventMatch{accessor: doc2, record: id, reasonPrefix: "consent/17"},
	))
	hash := mc.show(t, who, id).Versions[0].ContentHash
	ciphertext := readFile(t, blobPath(nw.homes[0], hash))

	text := plaintextSecrets()
	binary := binarySecrets()
	mid := len(ciphertext) / 2
	cipher := newSecret("ciphertext", ciphertext[mid:mid+32])
	text, binary = append(text, cipher), append(binary, cipher)
	// The free text that testEmergency offered as an emergency's reason and
	// review, which the chain refused: emergencies hold codes only.
	text, binary = append(text, emergencyFreeText()...), append(binary, emergencyFreeText()...)

	// The scanner finds what it should: the plaintext and its encodings.
	for _, data := range [][]byte{plain, []byte(hex.EncodeToString(plain)), []byte("x" + base64.StdEncoding.EncodeToString(plain))} {
		if len(find(plaintextSecrets(), data)) < 3 {
			t.Fatalf("the scanner misses secrets in %.40q...", data)
		}
	}

	hashBytes, _ := hex.DecodeString(hash)
	idBytes, _ := hex.DecodeString(id)
	var sawHashInBlocks, sawHashInTxs, sawRecordInState bool
	report := func(where string, hits []string) {
		if len(hits) > 0 {
			t.Errorf("%s holds %s", where, strings.Join(hits, ", "))
		}
	}

	// Every block, as the API and CometBFT's RPC serve it, every transaction decoded.
	st, err := mc.client().Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= st.Height; h++ {
		var blk json.RawMessage
		if err := mc.client().Get(t.Context(), fmt.Sprintf("/v1/blocks/%d", h), &blk); err != nil {
			t.Fatal(err)
		}
		report(fmt.Sprintf("GET /v1/blocks/%d", h), find(text, blk))
		sawHashInBlocks = sawHashInBlocks || bytes.Contains(blk, []byte(hash))

		raw := httpGet(t, fmt.Sprintf("%s/block?height=%d", nw.rpcs[0], h))
		report(fmt.Sprintf("RPC /block?height=%d", h), find(text, raw))
		var rb struct {
			Result struct {
				Block struct {
					Data struct {
						Txs [][]byte `json:"txs"` // base64
					} `json:"data"`
				} `json:"block"`
			} `json:"result"`
		}
		if err := json.Unmarshal(raw, &rb); err != nil {
			t.Fatalf("RPC /block?height=%d: %v", h, err)
		}
		for i, tx := range rb.Result.Block.Data.Txs {
			report(fmt.Sprintf("transaction %d of block %d", i, h), find(binary, tx))
			sawHashInTxs = sawHashInTxs || bytes.Contains(tx, hashBytes)
		}
		results := httpGet(t, fmt.Sprintf("%s/block_results?height=%d", nw.rpcs[0], h))
		report(fmt.Sprintf("RPC /block_results?height=%d", h), find(text, results))
		// The API leaves patient-scoped events out of public blocks
		// (redacted), and CometBFT's block results carry a bundle's
		// outcome, not its transactions' events: the node's own
		// transaction index holds them, unredacted, on disk.
		sawHashInBlocks = sawHashInBlocks || bytes.Contains(results, []byte(hash))
		for k, nd := range nw.nodes {
			txs, err := nd.App().BlockTxs(h)
			if err != nil {
				t.Fatalf("node%d transaction index at %d: %v", k, h, err)
			}
			js, err := json.Marshal(txs)
			if err != nil {
				t.Fatal(err)
			}
			report(fmt.Sprintf("node%d transaction index at %d", k, h), find(text, js))
			sawHashInBlocks = sawHashInBlocks || bytes.Contains(js, []byte(hash))
		}
	}

	// Every key and value of each node's committed state.
	for k, nd := range nw.nodes {
		nd.App().Committed().Iterate(nil, nil, func(key, value []byte) bool {
			if hits := append(find(binary, key), find(binary, value)...); len(hits) > 0 {
				t.Errorf("node%d state key %x holds %s", k, key, strings.Join(hits, ", "))
			}
			sawRecordInState = sawRecordInState || bytes.Contains(key, idBytes)
			return true
		})
	}

	// The nodes' logs, at debug level.
	logs := nw.logs.Bytes()
	if !bytes.Contains(logs, []byte("node started")) {
		t.Errorf("the node log buffer holds no startup line: are the logs captured?")
	}
	report("the nodes' log output", find(text, logs))

	// At rest, the blob stores hold ciphertext only.
	for k, home := range nw.homes {
		for _, f := range blobFiles(t, home) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			report(fmt.Sprintf("node%d blob file %s", k, f), find(plaintextSecrets(), b))
		}
	}

	if !sawHashInBlocks || !sawHashInTxs || !sawRecordInState {
		t.Errorf("the scan did not cover the record: content hash in block JSON or results %v, in a transaction %v; record id in state %v",
			sawHashInBlocks, sawHashInTxs, sawRecordInState)
	}
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", u, resp.StatusCode, b)
	}
	return b
}
