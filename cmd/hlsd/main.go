// Command hlsd is the whole HLS pipeline in one binary: `hlsd all` runs every
// service in one process; `hlsd gateway|encoder|segmenter|content` runs one.
package main

import (
	"os"

	"github.com/hlsd/hlsd/cmd/hlsd/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stderr)) }
