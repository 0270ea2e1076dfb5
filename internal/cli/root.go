// Package cli is the medchain command line: cobra commands built by
// constructors, with no package-level state. Commands that read or write the
// chain talk to a node's HTTP API (--node); commands that sign load keys from
// the keystore under --home.
package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Env is what commands read from outside: environment, streams.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// ReadSecret prompts at a terminal and reads a line without echo. It
	// returns ErrNoTerminal when there is no terminal; nil means none.
	ReadSecret func(prompt string) (string, error)
}

// DefaultEnv is the process's environment.
func DefaultEnv() Env {
	return Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		ReadSecret: terminalSecret(os.Stdin, os.Stderr),
	}
}

// globals are the persistent flags shared by every command.
type globals struct {
	env  Env
	home string
	node string
	from string
	json bool
}

// DefaultHomeDir is $MEDCHAIN_HOME, else ~/.medchain.
func DefaultHomeDir(getenv func(string) string) string {
	if h := getenv("MEDCHAIN_HOME"); h != "" {
		return h
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".medchain")
	}
	return ".medchain"
}

// NewRootCmd builds the medchain command tree.
func NewRootCmd(env Env) *cobra.Command {
	g := &globals{env: env}
	root := &cobra.Command{
		Use:   "medchain",
		Short: "medchain: a permissioned blockchain network for healthcare",
		Long: `medchain runs and uses a permissioned healthcare blockchain network.

Start a complete single-node network:   medchain dev
Run one node of a network:              medchain start --home DIR
Use a running node:                     medchain status, medchain account ..., medchain gov ...

Commands that use a node talk to its HTTP API at --node. Commands that sign
load the --from key from HOME/keys; its passphrase comes from $MEDCHAIN_PASSPHRASE
when set, else from a prompt at the terminal. Wherever a command takes an
account, it accepts a key name or an address (mc followed by 40 hex digits).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.home, "home", DefaultHomeDir(env.Getenv), "node home / keystore folder (env MEDCHAIN_HOME)")
	pf.StringVar(&g.node, "node", envOr(env.Getenv, "MEDCHAIN_NODE", "http://127.0.0.1:8080"), "node API URL (env MEDCHAIN_NODE)")
	pf.StringVar(&g.from, "from", "", "signing key: a key name in the keystore, or an address")
	pf.BoolVar(&g.json, "json", false, "print JSON")

	root.AddCommand(
		NewDevCmd(g),
		NewStartCmd(g),
		NewTestnetCmd(g),
		NewVersionCmd(g),
		NewVerifyCmd(g),
		NewRecordCmd(g),
		NewConsentCmd(g),
		NewAuditCmd(g),
		NewEmergencyCmd(g),
		NewTrialCmd(g),
		NewFHIRCmd(g),
		NewBenchCmd(g),
		NewKeysCmd(g),
		NewStatusCmd(g),
		NewAccountCmd(g),
		NewMemberCmd(g),
		NewGuardianCmd(g),
		NewOrgCmd(g),
		NewGovCmd(g),
		NewValidatorsCmd(g),
		NewParamsCmd(g),
		NewBlockCmd(g),
		NewTxCmd(g),
		NewShowValidatorCmd(g),
		NewStateCmd(g),
		NewStakingCmd(g),
		NewTelemedCmd(g),
		NewBankCmd(g),
		NewFeesCmd(g),
		NewResearchCmd(g),
		NewSupplyCmd(g),
		NewLinkCmd(g),
		NewHL7Cmd(g),
		NewBackupCmd(g),
		NewRestoreCmd(g),
		NewPolicyCmd(g),
		NewChaosCmd(g),
	)
	return root
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// Execute runs the CLI and returns the process exit code.
func Execute(env Env, args []string) int {
	root := NewRootCmd(env)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(env.Stderr, "Error:", err)
		return 1
	}
	return 0
}
