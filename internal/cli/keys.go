package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/keystore"
)

// NewKeysCmd builds `medchain keys`: the encrypted key files under HOME/keys.
func NewKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the encrypted account keys under HOME/keys",
		Long: `keys manages account keys: each is a file HOME/keys/NAME.json holding the
address and public keys in clear and the private seeds encrypted under a
passphrase (Argon2id, XChaCha20-Poly1305).

The passphrase comes from $` + PassphraseEnv + ` when set; otherwise it is asked
for at the terminal, without echo.`,
	}
	cmd.AddCommand(newKeysAddCmd(g), newKeysListCmd(g), newKeysShowCmd(g), newKeysImportCmd(g), newKeysExportCmd(g))
	return cmd
}

func newKeysAddCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME",
		Short: "Create a new key",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			name := args[0]
			ks := g.keystore()
			if err := checkNewKey(ks, name); err != nil {
				return err
			}
			pass, err := g.passphrase(fmt.Sprintf("Passphrase for the new key %q: ", name), true)
			if err != nil {
				return err
			}
			if _, err := ks.Create(name, pass); err != nil {
				return err
			}
			return g.printKey(ks, name, "Created")
		},
	}
}

func newKeysImportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import NAME SEEDHEX",
		Short: "Store an exported key (SEEDHEX \"-\": read it from stdin)",
		Long: `import stores a key from the seed hex printed by "medchain keys export".
With SEEDHEX "-" the seed is read from stdin (asked for without echo at a
terminal), which keeps it out of the shell history.`,
		Args: cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			name, seed := args[0], args[1]
			ks := g.keystore()
			if err := checkNewKey(ks, name); err != nil {
				return err
			}
			if seed == "-" {
				var err error
				if seed, err = g.seedFromStdin(); err != nil {
					return err
				}
			}
			key, err := keystore.ParseSeedHex(seed)
			if err != nil {
				return err
			}
			pass, err := g.passphrase(fmt.Sprintf("Passphrase for the imported key %q: ", name), true)
			if err != nil {
				return err
			}
			if err := ks.Import(name, pass, key); err != nil {
				return err
			}
			return g.printKey(ks, name, "Imported")
		},
	}
}

// checkNewKey fails early, before any prompt, when name is taken or invalid.
func checkNewKey(ks *keystore.Store, name string) error {
	if err := keystore.CheckName(name); err != nil {
		return err
	}
	if _, err := ks.Info(name); err == nil {
		return fmt.Errorf("%w: %q in %s", keystore.ErrExists, name, ks.Dir)
	} else if !errors.Is(err, keystore.ErrNotFound) {
		return err
	}
	return nil
}

func (g *globals) printKey(ks *keystore.Store, name, verb string) error {
	info, err := ks.Info(name)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(info)
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "%s key %q in %s\n", verb, name, ks.Dir)
	printInfo(g, info)
	return nil
}

func printInfo(g *globals, info keystore.Info) {
	tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "address:\t%s\n", info.Address)
	fmt.Fprintf(tw, "pub_key:\t%s\n", info.PubKey)
	fmt.Fprintf(tw, "enc_key:\t%s\n", info.EncKey)
	tw.Flush()
}

func newKeysListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the keys",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			infos, err := g.keystore().List()
			if err != nil {
				return err
			}
			if g.json {
				if infos == nil {
					infos = []keystore.Info{}
				}
				return g.printJSON(infos)
			}
			if len(infos) == 0 {
				fmt.Fprintf(g.env.Stderr, "no keys in %s\n", g.keystore().Dir)
				return nil
			}
			tw := tabwriter.NewWriter(g.env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tADDRESS")
			for _, in := range infos {
				fmt.Fprintf(tw, "%s\t%s\n", in.Name, in.Address)
			}
			return tw.Flush()
		},
	}
}

func newKeysShowCmd(g *globals) *cobra.Command {
	var addrOnly bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's address and public keys (NAME may be an address)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			info, err := g.keyInfo(args[0])
			if err != nil {
				return err
			}
			switch {
			case addrOnly:
				fmt.Fprintln(g.env.Stdout, info.Address)
			case g.json:
				return g.printJSON(info)
			default:
				fmt.Fprintf(g.env.Stdout, "name:     %s\n", info.Name)
				printInfo(g, info)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&addrOnly, "address", false, "print only the address")
	return cmd
}

func newKeysExportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "export NAME",
		Short: "Print a key's secret seed (for keys import)",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			info, err := g.keyInfo(args[0])
			if err != nil {
				return err
			}
			pass, err := g.passphrase(fmt.Sprintf("Passphrase of key %q: ", info.Name), false)
			if err != nil {
				return err
			}
			seed, err := g.keystore().Export(info.Name, pass)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stderr, "WARNING: this seed gives full control of %s and decrypts everything sent to it. Keep it secret.\n", info.Address)
			if g.json {
				return g.printJSON(map[string]string{"name": info.Name, "address": info.Address.String(), "seed": seed})
			}
			fmt.Fprintln(g.env.Stdout, seed)
			return nil
		},
	}
}
