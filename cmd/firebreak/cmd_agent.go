package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak/firebreak/contain"
)

func (a *app) agentCmd() *cobra.Command {
	var (
		listen, certFile, keyFile, caFile, netns string
		allow                                    []string
	)
	cmd := &cobra.Command{
		Use:   "agent --cert FILE --key FILE --ca FILE",
		Short: "Run the host agent: apply containment here on request, over HTTPS with mutual TLS",
		Long: `The agent runs on each host and applies the rulesets responders send it to the
host's firebreak table (nftables, over netlink). It serves HTTPS with mutual TLS
only: a client needs a certificate signed by --ca, and with --allow-client its
name must be listed. It runs the revert deadline itself, so a provisional
containment is tidied away on time even when the responder's process is gone
(the kernel's element timeouts stop it matching in any case).

With --netns NAME the agent listens and applies inside that named network
namespace: the lab runs one agent per lab host that way.

Create the certificates with firebreak pki.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = fmt.Sprintf(":%d", a.cfg.Contain.Policy.AgentPort)
			}
			if _, port, err := net.SplitHostPort(listen); err != nil || port == "" {
				return usagef("--listen %q: want HOST:PORT or :PORT", listen)
			}
			if certFile == "" || keyFile == "" || caFile == "" {
				return usagef("--cert, --key and --ca are required: the agent serves mutual TLS only (create them with firebreak pki)")
			}
			for _, n := range allow {
				if strings.TrimSpace(n) == "" {
					return usagef("--allow-client: empty name")
				}
			}
			tlsCfg, err := contain.LoadServerTLS(certFile, keyFile, caFile)
			if err != nil {
				return usageError{err}
			}
			spec := "local"
			if netns != "" {
				spec = "netns:" + netns
			}
			target, err := contain.OpenTarget(spec, contain.TargetOptions{})
			if errors.Is(err, contain.ErrBadTarget) {
				return usagef("--netns %q: %v", netns, err)
			}
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(a.stderr, nil))
			agent, err := contain.NewAgent(contain.AgentConfig{
				Target:         target,
				TLS:            tlsCfg,
				AllowedClients: allow,
				Logger:         log,
			})
			if err != nil {
				return err
			}
			ln, err := contain.ListenTCP(netns, listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			attrs := []any{"addr", ln.Addr().String(), "target", target.String()}
			if len(allow) > 0 {
				attrs = append(attrs, "allow", strings.Join(allow, ","))
			}
			log.Info("firebreak agent listening (mutual TLS)", attrs...)
			err = agent.Serve(cmd.Context(), ln)
			log.Info("firebreak agent stopped")
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "address to listen on (default :AGENT-PORT, from --agent-port or contain.agent_port)")
	f.StringVar(&certFile, "cert", "", "the agent's certificate (PEM, issued with firebreak pki issue --server)")
	f.StringVar(&keyFile, "key", "", "the agent's private key (PEM)")
	f.StringVar(&caFile, "ca", "", "the CA whose client certificates are accepted (PEM)")
	f.StringSliceVar(&allow, "allow-client", nil, "only accept clients with this certificate name (CommonName or DNS SAN; repeatable)")
	f.StringVar(&netns, "netns", "", "listen and apply inside this named network namespace")
	return cmd
}

// Flags and environment variables naming the responder's client certificate
// for agent targets.
const (
	flagAgentCert = "agent-cert"
	flagAgentKey  = "agent-key"
	flagAgentCA   = "agent-ca"
	envAgentCert  = "FIREBREAK_AGENT_CERT"
	envAgentKey   = "FIREBREAK_AGENT_KEY"
	envAgentCA    = "FIREBREAK_AGENT_CA"
)

// addAgentClientFlags adds the client-certificate flags that
// agentClientTLS reads to a command that talks to agents.
func addAgentClientFlags(fs *pflag.FlagSet) {
	fs.String(flagAgentCert, "", "client certificate for agent targets (PEM; default $"+envAgentCert+")")
	fs.String(flagAgentKey, "", "its private key (PEM; default $"+envAgentKey+")")
	fs.String(flagAgentCA, "", "the CA that signs the agents' certificates (PEM; default $"+envAgentCA+")")
}

// agentClientTLS loads the responder's TLS configuration for agent targets
// from --agent-cert/--agent-key/--agent-ca (when the command has them) or
// FIREBREAK_AGENT_CERT/KEY/CA. It returns nil and no error when none is set:
// only an agent target needs one, and contain says so when it does. Some but
// not all set, or unusable files, are usage errors.
func agentClientTLS(cmd *cobra.Command) (*tls.Config, error) {
	get := func(flag, env string) string {
		if f := cmd.Flags().Lookup(flag); f != nil && f.Changed {
			return f.Value.String()
		}
		return os.Getenv(env)
	}
	cert, key, ca := get(flagAgentCert, envAgentCert), get(flagAgentKey, envAgentKey), get(flagAgentCA, envAgentCA)
	if cert == "" && key == "" && ca == "" {
		return nil, nil
	}
	if cert == "" || key == "" || ca == "" {
		return nil, usagef("agent client TLS needs all three of --%s, --%s and --%s (or $%s, $%s, $%s)",
			flagAgentCert, flagAgentKey, flagAgentCA, envAgentCert, envAgentKey, envAgentCA)
	}
	c, err := contain.LoadClientTLS(cert, key, ca)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, contain.ErrTLSMaterial) {
			return nil, usageError{fmt.Errorf("agent client TLS: %w", err)}
		}
		return nil, err
	}
	return c, nil
}
