package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/demo"
	"github.com/firebreak/firebreak/simulate"
)

// errLabRoot: namespaces, veth pairs and bridges need root.
var errLabRoot = errors.New("lab needs root (network namespaces)")

// labReadyTimeout bounds how long `lab up` waits for the responders.
const labReadyTimeout = 15 * time.Second

// labFlags are the flags every lab command shares.
type labFlags struct {
	name string
	dir  string
}

// check refuses to go on without root or with a bad lab name.
func (f *labFlags) check() error {
	if os.Geteuid() != 0 {
		return errLabRoot
	}
	return contain.CheckLabName(f.name)
}

func (a *app) labCmd() *cobra.Command {
	f := &labFlags{}
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Build the topology as network namespaces and probe journeys with real connections",
		Long: `lab builds the workspace's topology (or the demo) inside network namespaces: one
namespace per host, all joined to a bridge in a lab namespace of their own, a tiny
TCP responder on every node's edge ports, and a prober that walks each journey
with real connections. Nothing is added to the root namespace's addresses or
routes. lab up imports the lab model as a new workspace revision, where every
host's enforce target is netns:NAME, so containment and simulation work on the
lab; lab probe reports each journey's real status in simulate's shape. The lab
needs root.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.name, "name", contain.DefaultLabName, "lab name: prefixes its namespaces")
	pf.StringVar(&f.dir, "state-dir", contain.DefaultLabDir, "where lab state and logs live")
	_ = pf.MarkHidden("state-dir")
	cmd.AddCommand(a.labUpCmd(f), a.labServeCmd(f), a.labProbeCmd(f), a.labDownCmd(f))
	return cmd
}

func (a *app) labUpCmd(f *labFlags) *cobra.Command {
	var useDemo bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Build the lab and start its responders",
		Long: `up builds the lab from the workspace's newest revision (or --rev, or the embedded
demo with --demo), starts the responders in the background and waits until they
answer, then imports the lab model as a new workspace revision. Topologies with
more than 64 hosts, edges without a TCP port or co-resident services needing the
same port are refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			var m *graph.Model
			if useDemo {
				dm, err := demo.Model()
				if err != nil {
					return err
				}
				m = dm
			} else {
				s, err := a.load(ctx, cmd, needModel)
				if err != nil {
					return err
				}
				m = s.model
			}
			st, lm, err := contain.LabUp(ctx, m, contain.LabOptions{Name: f.name, Dir: f.dir, Avoid: a.cfg.Contain.Policy.Management})
			if err != nil {
				return err
			}
			done := false
			defer func() {
				if !done {
					_ = contain.LabDown(context.Background(), f.name, f.dir)
				}
			}()
			logPath, err := a.startLabServer(ctx, f, st, lm)
			if err != nil {
				return err
			}
			rev, err := a.importLab(ctx, f.name, lm)
			if err != nil {
				return err
			}
			done = true
			fmt.Fprintf(a.stdout, "lab %s up: %d nodes in %d network namespaces (bridge and prober %s in %s)\n",
				st.Name, len(st.Nodes), len(st.NetNSes())-1, st.Prober, st.LabNetNS)
			fmt.Fprintf(a.stdout, "workspace revision %d: every host's enforce is netns:<its namespace>\n", rev)
			fmt.Fprintf(a.stdout, "responders: pid %d, log %s\n", st.ServerPID, logPath)
			return nil
		},
	}
	cmd.Flags().BoolVar(&useDemo, "demo", false, "build the embedded demo estate instead of the workspace")
	return cmd
}

// startLabServer re-executes this binary as `lab serve` in a session of its
// own, records its pid in the state file and waits until every responder
// answers. It returns the server's log file.
func (a *app) startLabServer(ctx context.Context, f *labFlags, st *contain.LabState, lm *graph.Model) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("lab %s: %w", f.name, err)
	}
	logPath := filepath.Join(f.dir, f.name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("lab %s: %w", f.name, err)
	}
	c := exec.Command(exe, "lab", "serve", "--name", f.name, "--state-dir", f.dir)
	c.Stdout, c.Stderr = logf, logf
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = c.Start()
	logf.Close()
	if err != nil {
		return "", fmt.Errorf("lab %s: start responders: %w", f.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = c.Wait(); close(exited) }()
	st.ServerPID = c.Process.Pid
	if err := contain.SaveLab(f.dir, st, lm); err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeout(ctx, labReadyTimeout)
	defer cancel()
	go func() {
		select {
		case <-exited:
			cancel()
		case <-wctx.Done():
		}
	}()
	if err := contain.LabWaitReady(wctx, st); err != nil {
		select {
		case <-exited:
			return "", fmt.Errorf("lab %s: responders exited: %s", f.name, logTail(logPath))
		default:
			return "", err
		}
	}
	return logPath, nil
}

// logTail returns the last lines of the server's log for an error message.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return "no output (log " + path + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, "; ")
}

// importLab stores the lab model as a new revision, so containment and
// simulation see the lab's netns targets.
func (a *app) importLab(ctx context.Context, name string, lm *graph.Model) (int64, error) {
	ws, err := graph.Open(a.cfg.Workspace)
	if err != nil {
		return 0, err
	}
	defer ws.Close()
	return ws.Import(ctx, lm, nil, graph.RevisionMeta{CreatedBy: operator(), Note: "lab " + name})
}

func (a *app) labServeCmd(f *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:    "serve",
		Short:  "Run the lab's responders until SIGTERM (started by lab up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			st, lm, err := contain.LoadLab(f.dir, f.name)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%s lab %s: serving %d nodes\n", time.Now().Format(time.RFC3339), st.Name, len(st.Nodes))
			err = contain.LabServe(cmd.Context(), st, lm)
			fmt.Fprintf(a.stderr, "%s lab %s: stopped\n", time.Now().Format(time.RFC3339), st.Name)
			return err
		},
	}
}

func (a *app) labProbeCmd(f *labFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Walk every journey with real connections and report its status",
		Long: `probe asks every node a journey names, from the lab namespace, whether it works:
each node checks its own dependencies by connecting to them from its namespace.
A journey is broken if a step has a required node (or every alternative) down or
unreachable, degraded if a step relies on a degraded node, else ok. --json writes
{"journeys": [...]} with the same elements as simulate --json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			st, lm, err := contain.LoadLab(f.dir, f.name)
			if err != nil {
				return err
			}
			js, err := contain.LabProbe(cmd.Context(), st, lm)
			if err != nil {
				return err
			}
			if asJSON {
				return graph.WriteJSON(a.stdout, struct {
					Journeys []simulate.ReportJourney `json:"journeys"`
				}{js})
			}
			var b strings.Builder
			for _, j := range js {
				fmt.Fprintf(&b, "  %-9s%-8s %-22s %s\n", strings.ToUpper(j.Status), "", j.ID, j.Cause)
			}
			_, err = fmt.Fprint(a.stdout, b.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write the result as JSON")
	return cmd
}

func (a *app) labDownCmd(f *labFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the responders and delete every namespace of the lab",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			if err := contain.LabDown(cmd.Context(), f.name, f.dir); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "lab %s down\n", f.name)
			return nil
		},
	}
}
