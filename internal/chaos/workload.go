package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/devnet"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/sm"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/bank"
	"github.com/medchain/medchain/x/consent"
	"github.com/medchain/medchain/x/telemed"
)

// The kinds of operation of the workload: every kind of signed transaction
// a hospital network sends, and reads of records (accesses the trail must
// show).
const (
	OpRegister       = "register"        // accounts/register_patient
	OpRecord         = "record"          // records/add (ciphertext uploaded to the node)
	OpGrant          = "grant"           // consent/grant read to a doctor, records/share of the keys
	OpRead           = "read"            // the doctor reads the record: an access the node audits (audit/log)
	OpSetGuardian    = "set_guardian"    // accounts/set_guardian
	OpRevokeGuardian = "revoke_guardian" // accounts/revoke_guardian
	OpRevoke         = "revoke"          // consent/revoke
	OpBook           = "book"            // telemed/book of a slot of the worker's own offer
	OpCancel         = "cancel"          // telemed/cancel of that booking
	OpSend           = "send"            // bank/send of 1 token
)

// Ack is a transaction a node reported committed with code 0.
type Ack struct {
	Op     string
	Hash   string
	Height int64
	Node   string
}

// Access is a record read a node served: the patient's trail must show it.
type Access struct {
	Patient  *crypto.PrivKey
	Accessor crypto.Address
	Record   consent.RecordID
	Node     string
}

// Ledger is what the workload was told: acknowledged transactions and
// served reads, and counts of attempts and errors. Safe for concurrent use.
type Ledger struct {
	mu       sync.Mutex
	acks     []Ack
	accesses []Access
	attempts map[string]int
	errs     map[string]int
	// failed are transactions committed with a failure code.
	failed []string
	// lastErr keeps a few recent error messages per operation, for reports.
	lastErr map[string]string
}

func newLedger() *Ledger {
	return &Ledger{attempts: map[string]int{}, errs: map[string]int{}, lastErr: map[string]string{}}
}

func (l *Ledger) ack(op, node string, res *api.TxResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks = append(l.acks, Ack{Op: op, Hash: res.Hash, Height: res.Height, Node: node})
}

func (l *Ledger) access(a Access) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accesses = append(l.accesses, a)
}

func (l *Ledger) attempt(op string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts[op]++
	if err == nil {
		return
	}
	l.errs[op]++
	l.lastErr[op] = err.Error()
	var te *client.TxError
	if errors.As(err, &te) && te.Result.Committed {
		l.failed = append(l.failed, fmt.Sprintf("%s %s at height %d: %s/%d %s", op, te.Result.Hash, te.Result.Height, te.Result.Codespace, te.Result.Code, te.Result.Log))
	}
}

// Snapshot returns copies of the acknowledged transactions and accesses.
func (l *Ledger) Snapshot() ([]Ack, []Access) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acks), slices.Clone(l.accesses)
}

// Counts returns attempts and errors per operation and the committed
// failures.
func (l *Ledger) Counts() (attempts, errs map[string]int, failed []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return cloneMap(l.attempts), cloneMap(l.errs), slices.Clone(l.failed)
}

// LastErrors is the last error of each operation.
func (l *Ledger) LastErrors() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.lastErr))
	for k, v := range l.lastErr {
		if len(v) > 300 {
			v = v[:300] + "..."
		}
		out[k] = v
	}
	return out
}

func cloneMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Workload drives the cluster with signed transactions of every kind from
// several workers. Each worker sends each operation to the next node in
// turn, so some go to a node under a fault: errors are counted, never fatal.
type Workload struct {
	cl      *Cluster
	ledger  *Ledger
	doctor  *crypto.PrivKey
	payers  []*crypto.PrivKey // development patients, funded in genesis
	offers  []uint64          // payer i books slots of offers[i]
	slot0   int64
	workers int
}

// NewWorkload loads the development keys from node0's home and publishes
// one telemedicine offer per worker (at most one per development patient).
func NewWorkload(ctx context.Context, cl *Cluster, workers int) (*Workload, error) {
	ks := keystore.Open(config.KeysDir(cl.Nodes[0].Home))
	load := func(name string) (*crypto.PrivKey, error) { return ks.Load(name, devnet.DevPassphrase) }
	w := &Workload{cl: cl, ledger: newLedger(), slot0: time.Now().Add(24 * time.Hour).Unix()}
	var err error
	if w.doctor, err = load("doctor1"); err != nil {
		return nil, err
	}
	for _, name := range []string{"patient1", "patient2", "patient3"} {
		k, err := load(name)
		if err != nil {
			return nil, err
		}
		w.payers = append(w.payers, k)
	}
	w.workers = min(max(workers, 1), len(w.payers))
	c := cl.Nodes[0].Client
	for range w.workers {
		res, err := c.Send(ctx, w.doctor, &telemed.MsgOffer{Service: "chaos-consultation", Price: 1, Duration: telemed.MinDuration, Arbiter: "dev-lab"})
		if err != nil {
			return nil, fmt.Errorf("publish a telemedicine offer: %w", err)
		}
		id, ok := eventAttr(res, "telemed_offer", "offer")
		if !ok {
			return nil, fmt.Errorf("offer %s names no offer id", res.Hash)
		}
		w.offers = append(w.offers, id)
	}
	return w, nil
}

// Ledger is what the workload has been told so far.
func (w *Workload) Ledger() *Ledger { return w.ledger }

// Run runs the workers until ctx ends.
func (w *Workload) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.worker(ctx, i)
		}()
	}
	wg.Wait()
}

// worker repeats a cycle of operations; a failed step skips the steps that
// depend on it.
func (w *Workload) worker(ctx context.Context, id int) {
	turn := id
	next := func() *Node {
		turn++
		return w.cl.Nodes[turn%len(w.cl.Nodes)]
	}
	payer := w.payers[id]
	slot := int64(0)
	for ctx.Err() == nil {
		w.cycle(ctx, id, payer, &slot, next)
	}
}

// opTimeout bounds one operation: a node under a fault may hold a request.
const opTimeout = 15 * time.Second

func (w *Workload) cycle(ctx context.Context, id int, payer *crypto.PrivKey, slot *int64, next func() *Node) {
	tx := func(op string, n *Node, fn func(ctx context.Context, c *client.Client) (*api.TxResult, error)) (*api.TxResult, bool) {
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		res, err := fn(octx, n.Client)
		if err == nil && (res == nil || !res.Committed || res.Code != 0) {
			err = fmt.Errorf("%s: not reported committed", op)
		}
		if ctx.Err() != nil {
			return nil, false // the run ended: neither an error nor an acknowledgement
		}
		w.ledger.attempt(op, err)
		if err != nil {
			pause(ctx, 100*time.Millisecond)
			return nil, false
		}
		w.ledger.ack(op, n.Name, res)
		return res, true
	}
	sendMsg := func(op string, key *crypto.PrivKey, msg sm.Msg) (*api.TxResult, bool) {
		return tx(op, next(), func(ctx context.Context, c *client.Client) (*api.TxResult, error) { return c.Send(ctx, key, msg) })
	}

	// Payments first: they need no new patient.
	start := w.slot0 + *slot*telemed.MinDuration // each worker books its own offer
	*slot++
	if res, ok := sendMsg(OpBook, payer, &telemed.MsgBook{Offer: w.offers[id], Start: start}); ok {
		if b, ok := eventAttr(res, "telemed_booked", "booking"); ok {
			sendMsg(OpCancel, payer, telemed.Cancel(b))
		}
	}

	key, err := crypto.GenerateKey(nil)
	if err != nil {
		return
	}
	patient := key.Address()
	if _, ok := sendMsg(OpRegister, key, &accounts.MsgRegisterPatient{EncKey: key.EncKey()}); !ok {
		return
	}
	sendMsg(OpSend, payer, &bank.MsgSend{To: patient, Amount: 1})

	var rec consent.RecordID
	_, ok := tx(OpRecord, next(), func(ctx context.Context, c *client.Client) (*api.TxResult, error) {
		fhir, err := devnet.DemoResource("p1-glucose.json", patient)
		if err != nil {
			return nil, err
		}
		s, err := c.NewSigner(ctx, key)
		if err != nil {
			return nil, err
		}
		r, err := c.AddRecord(ctx, s, patient, fhir, nil)
		if err != nil {
			return nil, err
		}
		rec = r.ID
		return r.Tx, nil
	})
	var consentID uint64
	granted := false
	if ok {
		_, granted = tx(OpGrant, next(), func(ctx context.Context, c *client.Client) (*api.TxResult, error) {
			s, err := c.NewSigner(ctx, key)
			if err != nil {
				return nil, err
			}
			g, err := c.Grant(ctx, s, &consent.MsgGrant{Patient: patient, Grantee: consent.Account(w.doctor.Address()),
				Actions: consent.ActRead, Purpose: consent.PurposeTreatment})
			if g != nil {
				consentID = g.ConsentID
			}
			if err != nil {
				return nil, err
			}
			return g.Tx, nil
		})
	}
	if granted {
		n := next()
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		_, _, err := n.Client.ReadRecord(octx, w.doctor, w.cl.ChainID, rec, 0)
		cancel()
		if ctx.Err() == nil {
			w.ledger.attempt(OpRead, err)
			if err == nil {
				w.ledger.access(Access{Patient: key, Accessor: w.doctor.Address(), Record: rec, Node: n.Name})
			}
		}
	}

	guardian := w.payers[(id+1)%len(w.payers)].Address()
	if _, ok := sendMsg(OpSetGuardian, key, &accounts.MsgSetGuardian{Guardian: guardian}); ok {
		sendMsg(OpRevokeGuardian, key, &accounts.MsgRevokeGuardian{Guardian: guardian})
	}
	if consentID != 0 {
		sendMsg(OpRevoke, key, &consent.MsgRevoke{ID: consentID})
	}
}

func eventAttr(res *api.TxResult, typ, attr string) (uint64, bool) {
	for _, e := range res.Events {
		if e.Type == typ {
			if v, err := strconv.ParseUint(e.Attrs[attr], 10, 64); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
