package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/contain"
)

func (a *app) pkiCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Create a small CA and certificates for agents and responders (labs, first deployments)",
		Long: `The agent speaks HTTPS with mutual TLS only: every agent has a server certificate
for the addresses it is reached at, every responder (the CLI) a client certificate,
both signed by one CA. pki creates that CA and issues those certificates as PEM
files in a directory; keys are ECDSA P-256 and written 0600. Existing files are
never overwritten.

  firebreak pki init  --dir pki
  firebreak pki issue --dir pki --name web-1 --server --host 10.20.1.11
  firebreak pki issue --dir pki --name alice --client`,
	}
	cmd.AddCommand(a.pkiInitCmd(), a.pkiIssueCmd())
	return cmd
}

func (a *app) pkiInitCmd() *cobra.Command {
	var (
		dir, name string
		validity  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Create a CA: DIR/ca.crt and DIR/ca.key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usagef("--dir DIR is required")
			}
			if err := pkiError(contain.CreateCA(dir, name, validity), dir); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote %s and %s (CA %q); keep %s secret and off the hosts\n",
				filepath.Join(dir, contain.CACertFile), filepath.Join(dir, contain.CAKeyFile), name, contain.CAKeyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the PKI (created if missing)")
	cmd.Flags().StringVar(&name, "name", "firebreak CA", "the CA's name (its CommonName)")
	cmd.Flags().DurationVar(&validity, "validity", contain.DefaultCAValidity, "how long the CA lasts")
	return cmd
}

func (a *app) pkiIssueCmd() *cobra.Command {
	var (
		dir string
		req contain.IssueRequest
	)
	cmd := &cobra.Command{
		Use:   "issue --dir DIR --name NAME (--server --host ADDR... | --client)",
		Short: "Issue a certificate signed by the CA in DIR: an agent's (--server) or a responder's (--client)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case dir == "":
				return usagef("--dir DIR is required")
			case req.Name == "":
				return usagef("--name NAME is required")
			case !req.Server && !req.Client:
				return usagef("say what the certificate is for: --server (an agent, with --host) or --client (a responder)")
			case req.Server && len(req.Hosts) == 0:
				return usagef("--server needs --host with each address or DNS name clients reach the agent at")
			case !req.Server && len(req.Hosts) > 0:
				return usagef("--host is for --server certificates")
			}
			if err := pkiError(contain.Issue(dir, req), dir); err != nil {
				return err
			}
			var roles []string
			if req.Server {
				roles = append(roles, "server for "+strings.Join(req.Hosts, ", "))
			}
			if req.Client {
				roles = append(roles, "client")
			}
			fmt.Fprintf(a.stdout, "wrote %s and %s (%s %s)\n",
				filepath.Join(dir, req.Name+".crt"), filepath.Join(dir, req.Name+".key"), req.Name, strings.Join(roles, "; "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory of the PKI, holding ca.crt and ca.key")
	f.StringVar(&req.Name, "name", "", "certificate name: its CommonName (what agents' --allow-client lists) and file name")
	f.BoolVar(&req.Server, "server", false, "an agent's certificate (server authentication)")
	f.BoolVar(&req.Client, "client", false, "a responder's certificate (client authentication)")
	f.StringSliceVar(&req.Hosts, "host", nil, "address or DNS name the agent is reached at (repeatable; --server only)")
	f.DurationVar(&req.Validity, "validity", contain.DefaultCertValidity, "how long the certificate lasts (never beyond the CA)")
	return cmd
}

// pkiError turns the PKI helper's input errors into usage errors (exit 2).
func pkiError(err error, dir string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, contain.ErrCertRequest), errors.Is(err, fs.ErrExist):
		return usageError{err}
	case errors.Is(err, fs.ErrNotExist):
		return usagef("%v: is %s a PKI directory? Create its CA with: firebreak pki init --dir %s", err, dir, dir)
	}
	return err
}
