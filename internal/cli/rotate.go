package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/crypto"
	"github.com/medchain/medchain/internal/keystore"
)

// newAccountRotateKeysCmd builds `medchain account rotate-keys`.
func newAccountRotateKeysCmd(g *globals) *cobra.Command {
	var newName, oldName string
	var wards []string
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "rotate-keys --from NAME [--new-name NEW]",
		Short: "Replace the account's signing and encryption keys; re-wrap every record key to the new key",
		Long: `rotate-keys makes a new key pair, saves it in the keystore as --new-name (NAME-next by
default, under the same passphrase), and replaces the --from account's keys with it
on chain (accounts/rotate_keys, signed by the current key, with the new key's proof
of possession). The account keeps its address. Before the rotation is sent, every
record key the account holds (its own records, and those shared with it, and those of
the patients named with --ward, whose guardian you are) is opened
with the current key and wrapped to the new one; after it, the new key registers
them (records/rewrap), so every record still opens. From then on the chain refuses
the old key: sign with --from NEW. The old key file stays in the keystore; it can
no longer sign, but it still opens the old wrapped keys if the re-wrap is
interrupted: finish it with

  medchain account rotate-keys --from NEW --resume-from NAME`,
		Example: `  medchain account rotate-keys --from patient1
  medchain account rotate-keys --from patient1 --new-name patient1-2027`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			info, err := g.fromInfo()
			if err != nil {
				return err
			}
			pass, err := g.passphrase(fmt.Sprintf("Passphrase of key %q: ", info.Name), false)
			if err != nil {
				return err
			}
			ks := g.keystore()
			key, err := ks.Load(info.Name, pass)
			if err != nil {
				return err
			}
			c := g.client()
			s, account, err := c.NewAccountSigner(ctx, key)
			if err != nil {
				return err
			}
			s.Fee = tf.fee
			var also []crypto.Address
			for _, w := range wards {
				a, err := g.account(w)
				if err != nil {
					return fmt.Errorf("--ward: %w", err)
				}
				also = append(also, a)
			}
			if oldName != "" {
				old, err := ks.Load(oldName, pass)
				if err != nil {
					return fmt.Errorf("--resume-from: %w", err)
				}
				n, err := c.Rewrap(ctx, s, account, old, also...)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.env.Stdout, "re-wrapped %d record keys of %s to key %q\n", n, account, info.Name)
				return nil
			}
			if newName == "" {
				newName = info.Name + "-next"
			}
			next, err := ks.Create(newName, pass)
			if errors.Is(err, keystore.ErrExists) {
				return fmt.Errorf("--new-name: a key %q already exists", newName)
			}
			if err != nil {
				return err
			}
			n, err := c.RotateKeys(ctx, s, account, next, also...)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "account %s now signs with key %q (%s); %d record keys re-wrapped; the chain refuses key %q from now on\n",
				account, newName, next.PubKey(), n, info.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&newName, "new-name", "", "keystore name of the new key (default NAME-next)")
	f.StringArrayVar(&wards, "ward", nil, "a patient you are guardian of, whose record keys you hold too (repeat; the chain keeps no list of wards)")
	f.StringVar(&oldName, "resume-from", "", "finish an interrupted re-wrap: the retired key that still opens the old wrapped keys")
	tf.add(cmd)
	return cmd
}
