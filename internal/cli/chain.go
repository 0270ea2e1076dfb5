package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/api"
	"github.com/medchain/medchain/internal/client"
	"github.com/medchain/medchain/internal/config"
	"github.com/medchain/medchain/internal/keystore"
	"github.com/medchain/medchain/sm"
)

// keystore is the key folder under --home.
func (g *globals) keystore() *keystore.Store { return keystore.Open(config.KeysDir(g.home)) }

func (g *globals) client() *client.Client { return client.New(g.node) }

// keyInfo finds a local key by name or by address.
func (g *globals) keyInfo(nameOrAddr string) (keystore.Info, error) {
	ks := g.keystore()
	if addr, err := crypto.ParseAddress(nameOrAddr); err == nil {
		info, err := ks.FindByAddress(addr)
		if errors.Is(err, keystore.ErrNotFound) {
			return info, fmt.Errorf("no key for address %s in %s (see: medchain keys list)", addr, ks.Dir)
		}
		return info, err
	}
	if keystore.CheckName(nameOrAddr) != nil {
		return keystore.Info{}, fmt.Errorf("%q is neither a key name nor an address (mc followed by 40 hex digits)", nameOrAddr)
	}
	info, err := ks.Info(nameOrAddr)
	if errors.Is(err, keystore.ErrNotFound) {
		if looksLikeAddress(nameOrAddr) {
			return info, fmt.Errorf("invalid address %q: %w (nor is it a key name in %s)", nameOrAddr, crypto.ErrBadAddress, ks.Dir)
		}
		return info, fmt.Errorf("no key named %q in %s (see: medchain keys list)", nameOrAddr, ks.Dir)
	}
	return info, err
}

// looksLikeAddress tells a mistyped address from a key name: "mc" followed
// only by hex digits.
func looksLikeAddress(s string) bool {
	rest, ok := strings.CutPrefix(s, crypto.AddressPrefix)
	if !ok || rest == "" {
		return false
	}
	return strings.Trim(rest, "0123456789abcdefABCDEF") == ""
}

// account resolves an ACCOUNT argument: an address as is, or the address of
// a key in the local keystore.
func (g *globals) account(arg string) (crypto.Address, error) {
	if a, err := crypto.ParseAddress(arg); err == nil {
		return a, nil
	}
	info, err := g.keyInfo(arg)
	if err != nil {
		return crypto.Address{}, err
	}
	return info.Address, nil
}

// fromInfo is the public part of the --from key.
func (g *globals) fromInfo() (info keystore.Info, err error) {
	if g.from == "" {
		return info, errors.New("--from is required: the name of a key in the keystore (see: medchain keys list) or its address")
	}
	info, err = g.keyInfo(g.from)
	if err != nil {
		return info, fmt.Errorf("--from: %w", err)
	}
	return info, nil
}

// signingKey loads the --from key with the passphrase.
func (g *globals) signingKey() (*crypto.PrivKey, error) {
	info, err := g.fromInfo()
	if err != nil {
		return nil, err
	}
	pass, err := g.passphrase(fmt.Sprintf("Passphrase of key %q: ", info.Name), false)
	if err != nil {
		return nil, err
	}
	return g.keystore().Load(info.Name, pass)
}

// keyFlags take an account's public keys from a local key file or in hex.
type keyFlags struct {
	key, pub, enc string
	pubFlag       string
	encFlag       string
}

func (k *keyFlags) add(cmd *cobra.Command, keyFlag, pubFlag, encFlag, whose string) {
	k.pubFlag, k.encFlag = pubFlag, encFlag
	f := cmd.Flags()
	f.StringVar(&k.key, keyFlag, "", whose+" public keys, from a local key: its name or address (no passphrase needed)")
	f.StringVar(&k.pub, pubFlag, "", whose+" public signing key, 64 hex digits")
	f.StringVar(&k.enc, encFlag, "", whose+" public encryption key, 64 hex digits")
	cmd.MarkFlagsMutuallyExclusive(keyFlag, pubFlag)
	cmd.MarkFlagsMutuallyExclusive(keyFlag, encFlag)
	cmd.MarkFlagsRequiredTogether(pubFlag, encFlag)
	cmd.MarkFlagsOneRequired(keyFlag, pubFlag)
}

func (k *keyFlags) resolve(g *globals) (crypto.PubKey, crypto.EncKey, error) {
	if k.key != "" {
		info, err := g.keyInfo(k.key)
		return info.PubKey, info.EncKey, err
	}
	pub, err := crypto.ParsePubKey(k.pub)
	if err != nil {
		return pub, crypto.EncKey{}, fmt.Errorf("--%s: %w", k.pubFlag, err)
	}
	enc, err := crypto.ParseEncKey(k.enc)
	if err != nil {
		return pub, enc, fmt.Errorf("--%s: %w", k.encFlag, err)
	}
	return pub, enc, nil
}

// txFlags are the flags every transaction command has.
type txFlags struct {
	fee      uint64
	feePayer string
}

func (t *txFlags) add(cmd *cobra.Command) {
	cmd.Flags().Uint64Var(&t.fee, "fee", 0, "fee to pay; at least the chain's minimum for the type (medchain fees price)")
	cmd.Flags().StringVar(&t.feePayer, "fee-payer", "", "a sponsor (address or key name) that pays the fee under its fee allowance to you (medchain fees grant)")
}

// send checks msg, signs it with the --from key, submits it and waits for its
// block. It prints the result (the API's JSON with --json, otherwise the hash,
// the height and outcome(res)). A rejected or failed transaction is an error
// carrying its code, codespace and log; so is a message that fails its own
// checks before it is sent, with the code the chain would refuse it with.
func (g *globals) send(ctx context.Context, tf txFlags, msg sm.Msg, outcome func(*api.TxResult) string) (*api.TxResult, error) {
	if err := msg.ValidateBasic(); err != nil {
		var se *sm.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%w (code %d/%s)", err, se.Code, se.Codespace)
		}
		return nil, err
	}
	key, err := g.signingKey()
	if err != nil {
		return nil, err
	}
	c := g.client()
	s, _, err := c.NewAccountSigner(ctx, key)
	if err != nil {
		return nil, err
	}
	s.Fee = tf.fee
	if tf.feePayer != "" {
		if s.FeePayer, err = g.account(tf.feePayer); err != nil {
			return nil, fmt.Errorf("--fee-payer: %w", err)
		}
	}
	res, err := c.SubmitSigned(ctx, s, msg, true)
	if err != nil {
		var te *client.TxError
		if !errors.As(err, &te) {
			return nil, err
		}
		if g.json {
			_ = g.printJSON(res)
		}
		if res.Committed {
			return nil, fmt.Errorf("%w [tx %s]", err, res.Hash)
		}
		return nil, err
	}
	if g.json {
		return res, g.printJSON(res)
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "committed tx %s in block %d\n", res.Hash, res.Height)
	fmt.Fprintln(w, outcome(res))
	return res, nil
}

// eventAttr returns attribute key of the first event of type typ.
func eventAttr(res *api.TxResult, typ, key string) (string, bool) {
	for _, e := range res.Events {
		if e.Type == typ {
			v, ok := e.Attrs[key]
			return v, ok
		}
	}
	return "", false
}

// get fetches an API path. With --json it prints the response as the API
// sent it and reports done; otherwise it decodes the response into out.
func (g *globals) get(ctx context.Context, path string, out any) (done bool, err error) {
	raw, err := g.fetch(ctx, path)
	if err != nil {
		return false, err
	}
	if g.json {
		return true, g.printRaw(raw)
	}
	return false, json.Unmarshal(raw, out)
}

// fetch returns the JSON at an API path.
func (g *globals) fetch(ctx context.Context, path string) (json.RawMessage, error) {
	var raw json.RawMessage
	return raw, g.client().Get(ctx, path, &raw)
}

// readClient is a client that signs its reads, as reads of patient data
// must be (docs/api.md): with the --from key, else with the key of the
// account the command is about (as) when it is in the local keystore.
func (g *globals) readClient(as string) (*client.Client, error) {
	name := g.from
	if name == "" {
		name = as
	}
	if name == "" {
		return nil, errors.New("reads of patient data are signed: give --from KEY (the patient, a guardian, a grantee or an authorized admin)")
	}
	info, err := g.keyInfo(name)
	if err != nil {
		return nil, fmt.Errorf("reads of patient data are signed with a local key (--from): %w", err)
	}
	pass, err := g.passphrase(fmt.Sprintf("Passphrase of key %q: ", info.Name), false)
	if err != nil {
		return nil, err
	}
	key, err := g.keystore().Load(info.Name, pass)
	if err != nil {
		return nil, err
	}
	return g.client().As(key, ""), nil
}

// getSigned is get with a signed request (readClient).
func (g *globals) getSigned(ctx context.Context, as, path string, out any) (done bool, err error) {
	raw, err := g.fetchSigned(ctx, as, path)
	if err != nil {
		return false, err
	}
	if g.json {
		return true, g.printRaw(raw)
	}
	return false, json.Unmarshal(raw, out)
}

// getSignedIfLocal is getSigned when the signer (--from, else as) is a
// local key, else an unsigned get: for routes that need a signature only
// for patient data (a patient's transaction list).
func (g *globals) getSignedIfLocal(ctx context.Context, as, path string, out any) (done bool, err error) {
	if g.from == "" {
		if _, err := g.keyInfo(as); err != nil {
			return g.get(ctx, path, out)
		}
	}
	return g.getSigned(ctx, as, path, out)
}

// fetchSigned is fetch with a signed request (readClient).
func (g *globals) fetchSigned(ctx context.Context, as, path string) (json.RawMessage, error) {
	c, err := g.readClient(as)
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	return raw, c.Get(ctx, path, &raw)
}

// printRaw prints JSON as the API sent it.
func (g *globals) printRaw(raw json.RawMessage) error {
	w := g.env.Stdout
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if len(raw) > 0 && raw[len(raw)-1] != '\n' {
		_, err := fmt.Fprintln(w)
		return err
	}
	return nil
}

func (g *globals) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.env.Stdout, "%s\n", b)
	return err
}

// localNames maps the addresses of local keys to their names, to label
// addresses in output. Best effort: an unreadable keystore labels nothing.
func (g *globals) localNames() map[string]string {
	infos, _ := g.keystore().List()
	m := make(map[string]string, len(infos))
	for _, in := range infos {
		m[in.Address.String()] = in.Name
	}
	return m
}

// label renders an address with the local key name that holds it, if any.
func label(names map[string]string, addr string) string {
	if n, ok := names[addr]; ok {
		return addr + " (" + n + ")"
	}
	return addr
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
