// Command firebreak is the CLI and TUI entry point: cobra commands, viper
// configuration read once into typed structs, and wiring. It holds no logic of
// its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/firebreak/firebreak/graph"
)

// Exit codes: 0 ok, 1 error, 2 bad usage or bad input.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks a bad command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code. Tests call it
// directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "firebreak: %v\n", err)
	return exitCode(err)
}

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, graph.ErrInvalid) {
		return exitUsage
	}
	return exitError
}
