// Command medchain runs and uses a medchain network. Wiring only: the
// commands live in internal/cli.
package main

import (
	"os"

	"github.com/medchain/medchain/internal/cli"
)

func main() { os.Exit(cli.Execute(cli.DefaultEnv(), os.Args[1:])) }
