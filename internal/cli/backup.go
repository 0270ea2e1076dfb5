package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/node"
)

// NewBackupCmd builds `medchain backup`: a checksummed archive of a node.
func NewBackupCmd(g *globals) *cobra.Command {
	var out string
	var keys bool
	cmd := &cobra.Command{
		Use:   "backup --home HOME --out FILE [--include-keys]",
		Short: "Write a consistent, checksummed backup of a node (running or stopped)",
		Long: `backup writes FILE (a .tar.gz) holding the node's state database, CometBFT's
block store and consensus state, its audit outbox, its local blob store (the
ciphertexts) and its configuration, with a manifest of every file's SHA-256.
A running node makes the backup itself, through its admin socket
(HOME/data/admin.sock): blocks wait while its databases are copied. A stopped
node's databases are read directly.

Private keys are left out unless --include-keys: the validator and node keys,
the signing state, the account keystore (HOME/keys) and the gateway's
passphrase. A backup with keys must be kept as safely as the keys themselves.
Restore with: medchain restore FILE --home NEW_HOME.`,
		Example: `  medchain backup --home ~/.medchain --out node0-$(date +%F).tar.gz`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			if keys {
				fmt.Fprintln(g.env.Stderr, "WARNING: --include-keys: "+out+" will hold the node's private keys (validator, node, accounts, gateway passphrase); store it encrypted, offline, and as restricted as the keys themselves")
			}
			tmp := out + ".partial"
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			running, err := node.BackupRunning(cmd.Context(), g.home, f, keys)
			if err == nil && !running {
				if _, serr := f.Seek(0, 0); serr != nil {
					err = serr
				} else if terr := f.Truncate(0); terr != nil {
					err = terr
				} else {
					_, err = node.BackupStopped(g.home, f, node.BackupOptions{IncludeKeys: keys})
				}
			}
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			var m *node.BackupManifest
			if err == nil { // read back: what is on disk is what restore will read
				var r *os.File
				if r, err = os.Open(tmp); err == nil {
					m, err = node.VerifyBackup(r)
					r.Close()
				}
			}
			if err == nil {
				err = os.Rename(tmp, out)
			}
			if err != nil {
				os.Remove(tmp)
				return fmt.Errorf("backup: %w", err)
			}
			if g.json {
				return g.printJSON(m)
			}
			how := "stopped node"
			if running {
				how = "running node"
			}
			fmt.Fprintf(g.env.Stdout, "backed up the %s %s of %q at height %d (app hash %s): %d files, keys %v, to %s\n",
				how, filepath.Clean(g.home), m.ChainID, m.Height, m.AppHash, len(m.Files), m.IncludeKeys, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the backup file to write (.tar.gz)")
	cmd.Flags().BoolVar(&keys, "include-keys", false, "also back up the node's private keys and the account keystore")
	return cmd
}

// NewRestoreCmd builds `medchain restore`.
func NewRestoreCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE --home NEW_HOME",
		Short: "Restore a backup into a new home (refuses a damaged backup)",
		Long: `restore checks every file of FILE against the backup's manifest (SHA-256) and
refuses a damaged or altered backup, then writes it into --home, which must not
exist or be empty. The node then starts at the backup's height and app hash
(medchain start --home NEW_HOME) and catches up from its peers.

A backup without keys gets a new node key and a new validator key: the restored
node is a full node. To restore a validator, use a backup taken with
--include-keys, or put its priv_validator_key.json and the newest
priv_validator_state.json in place before starting (an older signing state risks
double-signing). Put the account keystore and config/gateway.pass back too if
the node runs a gateway.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			m, err := node.Restore(f, g.home)
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			if g.json {
				return g.printJSON(m)
			}
			fmt.Fprintf(g.env.Stdout, "restored %q at height %d (app hash %s) into %s\n", m.ChainID, m.Height, m.AppHash, g.home)
			if !m.IncludeKeys {
				fmt.Fprintln(g.env.Stdout, "the backup held no keys: the node has a new node key and validator key (a full node); see medchain restore --help")
			}
			return nil
		},
	}
}
