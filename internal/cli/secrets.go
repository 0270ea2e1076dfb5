package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// PassphraseEnv names the environment variable that, when set, supplies the
// keystore passphrase without a prompt.
const PassphraseEnv = "MEDCHAIN_PASSPHRASE"

// ErrNoTerminal is returned by Env.ReadSecret when stdin is not a terminal.
var ErrNoTerminal = errors.New("stdin is not a terminal")

// terminalSecret reads secrets from in without echo, prompting on out, when
// in is a terminal.
func terminalSecret(in *os.File, out io.Writer) func(string) (string, error) {
	return func(prompt string) (string, error) {
		fd := int(in.Fd())
		if !term.IsTerminal(fd) {
			return "", ErrNoTerminal
		}
		fmt.Fprint(out, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(out)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
}

func (g *globals) readSecret(prompt string) (string, error) {
	if g.env.ReadSecret == nil {
		return "", ErrNoTerminal
	}
	return g.env.ReadSecret(prompt)
}

// passphrase returns $MEDCHAIN_PASSPHRASE when set, else asks at the
// terminal; confirm asks twice and refuses an empty passphrase (new keys).
func (g *globals) passphrase(prompt string, confirm bool) (string, error) {
	if p := g.env.Getenv(PassphraseEnv); p != "" {
		return p, nil
	}
	p, err := g.readSecret(prompt)
	if errors.Is(err, ErrNoTerminal) {
		return "", fmt.Errorf("no passphrase: set %s or run at a terminal", PassphraseEnv)
	}
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	if !confirm {
		return p, nil
	}
	if p == "" {
		return "", errors.New("the passphrase must not be empty")
	}
	again, err := g.readSecret("Repeat the passphrase: ")
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	if again != p {
		return "", errors.New("the passphrases do not match")
	}
	return p, nil
}

// maxSeedInput bounds what is read from stdin for a seed.
const maxSeedInput = 4096

// seedFromStdin reads a seed typed at the terminal (without echo) or piped
// into stdin.
func (g *globals) seedFromStdin() (string, error) {
	s, err := g.readSecret("Seed (128 hex digits): ")
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, ErrNoTerminal) {
		return "", fmt.Errorf("read seed: %w", err)
	}
	if g.env.Stdin == nil {
		return "", errors.New("no seed on stdin")
	}
	b, err := io.ReadAll(io.LimitReader(g.env.Stdin, maxSeedInput))
	if err != nil {
		return "", fmt.Errorf("read seed from stdin: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
