package cli

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/spf13/cobra"

	"github.com/medchain/medchain/internal/config"
)

// NewShowValidatorCmd builds `medchain show-validator`: the consensus public
// key of the node whose home is --home, for `gov propose add-validator`.
func NewShowValidatorCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show-validator",
		Short: "Print the consensus public key (hex) of the node whose home is --home",
		Long: `show-validator reads HOME/config/priv_validator_key.json and prints the node's
ed25519 consensus public key in hex, the form "medchain gov propose
add-validator --pub-key" takes. With --json it also prints the base64 form and
the CometBFT validator address. The private key in that file is
not decoded.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			pub, err := readConsensusKey(config.PrivValKeyPath(g.home))
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]string{
					"pub_key":        hex.EncodeToString(pub),
					"pub_key_base64": base64.StdEncoding.EncodeToString(pub),
					"address":        cmted25519.PubKey(pub).Address().String(),
				})
			}
			fmt.Fprintln(g.env.Stdout, hex.EncodeToString(pub))
			return nil
		},
	}
}

// readConsensusKey reads pub_key from a CometBFT priv_validator_key.json.
// It parses the file itself: CometBFT's loader exits the process on error.
func readConsensusKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("validator key: %w", err)
	}
	var f struct {
		PubKey struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"pub_key"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("validator key %s: %w", path, err)
	}
	if f.PubKey.Type != cmted25519.PubKeyName {
		return nil, fmt.Errorf("validator key %s: type %q, want %q", path, f.PubKey.Type, cmted25519.PubKeyName)
	}
	pub, err := base64.StdEncoding.DecodeString(f.PubKey.Value)
	if err != nil || len(pub) != cmted25519.PubKeySize {
		return nil, fmt.Errorf("validator key %s: pub_key.value is not the base64 of %d bytes", path, cmted25519.PubKeySize)
	}
	return pub, nil
}
