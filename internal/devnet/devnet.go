// Package devnet writes the homes of a medchain network: validator and node
// keys, the genesis document with the development organizations and
// accounts, each node's configuration, and the development accounts'
// encrypted key files. `medchain dev` uses it for one node, `medchain
// testnet` for N nodes on this machine.
package devnet

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/internal/linkkey"
	"github.com/medchain/medchain/x/accounts"
	"github.com/medchain/medchain/x/gov"
	"github.com/medchain/medchain/x/links"
	"github.com/medchain/medchain/x/mint"
)

// DevPassphrase protects the development accounts' key files. It is public:
// development keys guard nothing of value.
const DevPassphrase = "medchain-dev"

// Orgs are the development organizations, in the order validators are
// assigned to them.
var Orgs = []accounts.GenesisOrg{
	{ID: "dev-hospital", Name: "Development General Hospital", Type: "hospital"},
	{ID: "dev-lab", Name: "Development Clinical Laboratory", Type: "lab"},
	{ID: "dev-pharmacy", Name: "Development Pharmacy", Type: "pharmacy"},
	{ID: "dev-manufacturer", Name: "Development Pharma Manufacturing", Type: "manufacturer"},
	{ID: "dev-sponsor", Name: "Development Research Sponsor", Type: "research_sponsor"},
	{ID: "dev-regulator", Name: "Development Regulator", Type: "regulator"},
	{ID: "dev-distributor", Name: "Development Wholesale Distributor", Type: "distributor"},
}

// Account is a development account.
type Account struct {
	Name string
	Kind string // patient or member
	Org  string
	Role string
}

// Accounts are the development accounts; each gets a key file named Name.
var Accounts = []Account{
	{Name: "hospital-admin", Kind: "member", Org: "dev-hospital", Role: accounts.RoleAdmin},
	{Name: "lab-admin", Kind: "member", Org: "dev-lab", Role: accounts.RoleAdmin},
	{Name: "pharmacy-admin", Kind: "member", Org: "dev-pharmacy", Role: accounts.RoleAdmin},
	{Name: "manufacturer-admin", Kind: "member", Org: "dev-manufacturer", Role: accounts.RoleAdmin},
	{Name: "sponsor-admin", Kind: "member", Org: "dev-sponsor", Role: accounts.RoleAdmin},
	{Name: "regulator-admin", Kind: "member", Org: "dev-regulator", Role: accounts.RoleAdmin},
	{Name: "doctor1", Kind: "member", Org: "dev-hospital", Role: accounts.RolePractitioner},
	{Name: "doctor2", Kind: "member", Org: "dev-hospital", Role: accounts.RolePractitioner},
	{Name: "labtech1", Kind: "member", Org: "dev-lab", Role: accounts.RolePractitioner},
	{Name: "pharmacist1", Kind: "member", Org: "dev-pharmacy", Role: accounts.RolePractitioner},
	{Name: "researcher1", Kind: "member", Org: "dev-sponsor", Role: accounts.RoleResearcher},
	{Name: "hospital-gateway", Kind: "member", Org: "dev-hospital", Role: accounts.RoleGateway},
	{Name: "lab-gateway", Kind: "member", Org: "dev-lab", Role: accounts.RoleGateway},
	{Name: "pharmacy-gateway", Kind: "member", Org: "dev-pharmacy", Role: accounts.RoleGateway},
	{Name: "manufacturer-gateway", Kind: "member", Org: "dev-manufacturer", Role: accounts.RoleGateway},
	{Name: "sponsor-gateway", Kind: "member", Org: "dev-sponsor", Role: accounts.RoleGateway},
	{Name: "regulator-gateway", Kind: "member", Org: "dev-regulator", Role: accounts.RoleGateway},
	{Name: "patient1", Kind: "patient"},
	{Name: "patient2", Kind: "patient"},
	{Name: "patient3", Kind: "patient"},
	{Name: "distributor-admin", Kind: "member", Org: "dev-distributor", Role: accounts.RoleAdmin},
	{Name: "distributor-gateway", Kind: "member", Org: "dev-distributor", Role: accounts.RoleGateway},
}

// GatewayKeyName is the key file name of a development organization's gateway.
func GatewayKeyName(org string) string {
	for _, a := range Accounts {
		if a.Org == org && a.Role == accounts.RoleGateway {
			return a.Name
		}
	}
	return ""
}

// DevInflationBps is the development network's annual inflation (x/mint).
const DevInflationBps = 500

// DevBalance is each development account's starting balance.
const DevBalance = 1_000_000_000

// Options describe the network to write.
type Options struct {
	ChainID    string
	Validators int
	// Homes are the node home directories: the first Validators are
	// validators, any after them full nodes.
	Homes []string
	// Ports: node k listens on P2PBase+k*PortStep, RPCBase+k*PortStep, APIBase+k.
	Host string // listen host, 127.0.0.1 by default
	// Hosts, when set, gives each node its own address (a network across
	// machines): node K listens and is peered at Hosts[K].
	Hosts    []string
	P2PBase  int
	RPCBase  int
	APIBase  int
	PortStep int
	// Base configuration every node starts from (timeouts etc.).
	Base config.Config
	// GenesisTime; zero means now.
	GenesisTime time.Time
	// Light makes the development key files cheap to open (tests, dev).
	Light bool
	// Params overrides governance parameters in genesis (name → value).
	Params map[string]uint64
}

// Result reports what was written.
type Result struct {
	ChainID  string
	Accounts []AccountInfo
	NodeIDs  []string
}

// AccountInfo is a development account's name and address.
type AccountInfo struct {
	Account
	Address crypto.Address
}

// Write creates the network's homes. It refuses to overwrite an existing home.
func Write(o Options) (*Result, error) {
	if o.Validators < 1 || o.Validators > len(o.Homes) {
		return nil, fmt.Errorf("need a home for each validator (%d validators, %d homes)", o.Validators, len(o.Homes))
	}
	if o.Validators > len(Orgs) {
		return nil, fmt.Errorf("at most %d validators (one per development organization)", len(Orgs))
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if len(o.Hosts) > 0 && len(o.Hosts) != len(o.Homes) {
		return nil, fmt.Errorf("%d hosts for %d nodes", len(o.Hosts), len(o.Homes))
	}
	hostOf := func(i int) string {
		if len(o.Hosts) > 0 {
			return o.Hosts[i]
		}
		return o.Host
	}
	if o.PortStep == 0 {
		o.PortStep = 10
	}
	if o.GenesisTime.IsZero() {
		o.GenesisTime = time.Now().UTC().Truncate(time.Second)
	}
	for _, h := range o.Homes {
		if config.Exists(h) {
			return nil, fmt.Errorf("%s already holds a node; remove it or choose another folder", h)
		}
	}

	// Development account keys, shared by every home.
	type devKey struct {
		acct Account
		key  *crypto.PrivKey
	}
	var keys []devKey
	res := &Result{ChainID: o.ChainID}
	var gAccts []accounts.GenesisAccount
	for _, a := range Accounts {
		k, err := crypto.GenerateKey(nil)
		if err != nil {
			return nil, err
		}
		keys = append(keys, devKey{a, k})
		gAccts = append(gAccts, accounts.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncKey(), Kind: a.Kind, Org: a.Org, Role: a.Role, Balance: DevBalance})
		res.Accounts = append(res.Accounts, AccountInfo{Account: a, Address: k.Address()})
	}

	// Per-node keys.
	var gvals []cmttypes.GenesisValidator
	var govVals []gov.GenesisValidator
	var peers []string
	linkKeys := map[string]*links.Resolver{}
	for i, home := range o.Homes {
		for _, d := range []string{filepath.Join(home, "config"), config.DataDir(home), config.KeysDir(home)} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
		}
		pvKey := cmted25519.GenPrivKey()
		pv := privval.NewFilePV(pvKey, config.PrivValKeyPath(home), config.PrivValStatePath(home))
		pv.Save()
		nk := &p2p.NodeKey{PrivKey: cmted25519.GenPrivKey()}
		if err := nk.SaveAs(config.NodeKeyPath(home)); err != nil {
			return nil, err
		}
		res.NodeIDs = append(res.NodeIDs, string(nk.ID()))
		peers = append(peers, fmt.Sprintf("%s@%s:%d", nk.ID(), hostOf(i), o.P2PBase+i*o.PortStep))
		if i >= o.Validators {
			continue // a full node: its key can become a validator's by governance
		}
		pub := pvKey.PubKey()
		gvals = append(gvals, cmttypes.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: fmt.Sprintf("node%d", i)})
		var vk crypto.PubKey
		copy(vk[:], pub.Bytes())
		govVals = append(govVals, gov.GenesisValidator{PubKey: vk, Power: 10, Org: Orgs[i].ID})
	}

	appState := app.GenesisState{}
	var err error
	// Each organization's encryption key is its gateway's: the node of the
	// organization opens keys wrapped to the organization.
	orgs := slices.Clone(Orgs)
	for i := range orgs {
		for _, k := range keys {
			if k.acct.Org == orgs[i].ID && k.acct.Role == accounts.RoleGateway {
				orgs[i].EncKey = k.key.EncKey()
			}
		}
	}
	if appState["accounts"], err = json.Marshal(accounts.Genesis{Orgs: orgs, Accounts: gAccts}); err != nil {
		return nil, err
	}
	// Validators earn block rewards: DevInflationBps a year unless the
	// options say otherwise.
	gp := map[string]uint64{mint.ParamInflationBps: DevInflationBps}
	maps.Copy(gp, o.Params)
	params, err := json.Marshal(gp)
	if err != nil {
		return nil, err
	}
	if appState["gov"], err = json.Marshal(gov.Genesis{Params: params, Validators: govVals}); err != nil {
		return nil, err
	}
	stateJSON, err := json.MarshalIndent(appState, "", "  ")
	if err != nil {
		return nil, err
	}
	gen := &cmttypes.GenesisDoc{
		GenesisTime:     o.GenesisTime,
		ChainID:         o.ChainID,
		InitialHeight:   1,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		Validators:      gvals,
		AppState:        stateJSON,
	}
	gen.ConsensusParams.Block.MaxBytes = 4 << 20
	if err := gen.ValidateAndComplete(); err != nil {
		return nil, err
	}

	for i, home := range o.Homes {
		if err := gen.SaveAs(config.GenesisPath(home)); err != nil {
			return nil, err
		}
		c := o.Base
		c.Moniker = fmt.Sprintf("node%d", i)
		c.P2P.Listen = fmt.Sprintf("%s:%d", hostOf(i), o.P2PBase+i*o.PortStep)
		c.RPC.Listen = fmt.Sprintf("%s:%d", hostOf(i), o.RPCBase+i*o.PortStep)
		c.API.Listen = fmt.Sprintf("%s:%d", hostOf(i), o.APIBase+i)
		if len(o.Hosts) > 0 {
			c.P2P.External = c.P2P.Listen
			c.P2P.AllowLoopback = false
		}
		var others, apis []string
		for j, p := range peers {
			if j != i {
				others = append(others, p)
				apis = append(apis, fmt.Sprintf("http://%s:%d", hostOf(j), o.APIBase+j))
			}
		}
		c.Blobs.Peers = apis
		c.P2P.PersistentPeers = strings.Join(others, ",")
		// Node K acts as the gateway of the K-th organization.
		c.Gateway.Key = GatewayKeyName(Orgs[i%len(Orgs)].ID)
		c.Gateway.PassphraseFile = filepath.Join("config", "gateway.pass")
		if err := os.WriteFile(filepath.Join(home, c.Gateway.PassphraseFile), []byte(DevPassphrase+"\n"), 0o600); err != nil {
			return nil, err
		}
		// Its patient-link key (x/links), one per organization, the same
		// in every home of that organization.
		if err := writeLinkKey(home, Orgs[i%len(Orgs)].ID, linkKeys); err != nil {
			return nil, err
		}
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if err := config.Save(home, c); err != nil {
			return nil, err
		}
		ks := keystore.Open(config.KeysDir(home))
		if o.Light {
			ks.Params = keystore.LightParams()
		}
		for _, k := range keys {
			if err := ks.Import(k.acct.Name, DevPassphrase, k.key); err != nil {
				return nil, fmt.Errorf("write key %s: %w", k.acct.Name, err)
			}
		}
	}
	return res, nil
}

// writeLinkKey writes org's link key to home, made on first use.
func writeLinkKey(home, org string, keys map[string]*links.Resolver) error {
	r := keys[org]
	if r == nil {
		r = &links.Resolver{Org: org}
		if _, err := rand.Read(r.Key[:]); err != nil {
			return err
		}
		keys[org] = r
	}
	return linkkey.Save(linkkey.Path(home), r)
}
