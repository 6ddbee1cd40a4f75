package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// Config is everything firebreak reads from its config file, FIREBREAK_*
// environment variables and flags, in that order of precedence (flags win).
// It is read once here; packages receive the typed parts.
type Config struct {
	Workspace string
	Simulate  simulate.Options
	Contain   ContainConfig
}

// ContainConfig is the containment part of the config.
type ContainConfig struct {
	Policy contain.Policy
	TTL    time.Duration
	// AgentNetNS dials host agents from inside this network namespace (a
	// lab's management namespace); empty dials from here.
	AgentNetNS string
}

// Defaults.
const (
	defaultWorkspace = "./firebreak.db"
	defaultAgentPort = 7443
	defaultTTL       = 5 * time.Minute
	configFileName   = "firebreak.yaml"
)

// configKeys binds persistent flags to their config keys.
var configKeys = map[string]string{
	"workspace":  "workspace",
	"mgmt-cidr":  "contain.management.cidrs",
	"mgmt-port":  "contain.management.ports",
	"agent-port": "contain.agent_port",
}

func addConfigFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "config file (default ./"+configFileName+" if present)")
	fs.String("workspace", defaultWorkspace, "workspace file")
	fs.StringSlice("mgmt-cidr", nil, "management networks that containment never cuts (repeatable)")
	fs.UintSlice("mgmt-port", []uint{22}, "management TCP ports kept open to the management networks")
	fs.Uint16("agent-port", defaultAgentPort, "port of the firebreak host agent, always kept open to the management networks")
}

// loadConfig reads the config for one command invocation. A fresh viper per
// call: nothing is global, and tests never read a developer's files.
func loadConfig(cmd *cobra.Command) (Config, error) {
	v := viper.New()
	v.SetEnvPrefix("FIREBREAK")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	v.SetDefault("workspace", defaultWorkspace)
	v.SetDefault("contain.agent_port", defaultAgentPort)
	v.SetDefault("contain.management.ports", []uint{22})
	v.SetDefault("contain.ttl", defaultTTL.String())
	v.SetDefault("simulate.service_compromises_host", false)
	for flag, key := range configKeys {
		if f := cmd.Flags().Lookup(flag); f != nil {
			if err := v.BindPFlag(key, f); err != nil {
				return Config{}, err
			}
		}
	}
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		path = os.Getenv("FIREBREAK_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat(configFileName); err == nil {
			path = configFileName
		}
	}
	if path != "" {
		v.SetConfigFile(path)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			var nf viper.ConfigFileNotFoundError
			if errors.As(err, &nf) || errors.Is(err, os.ErrNotExist) {
				return Config{}, usagef("config %s: not found", path)
			}
			return Config{}, usagef("config %s: %v", path, err)
		}
	}
	var cfg Config
	cfg.Workspace = v.GetString("workspace")
	cfg.Simulate.ServiceCompromisesHost = v.GetBool("simulate.service_compromises_host")
	if err := readClasses(v, &cfg.Simulate); err != nil {
		return Config{}, err
	}
	for _, c := range v.GetStringSlice("contain.management.cidrs") {
		for _, part := range strings.Split(c, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			p, err := parsePrefix(part)
			if err != nil {
				return Config{}, usagef("contain.management.cidrs: %q is not a CIDR or address", part)
			}
			cfg.Contain.Policy.Management = append(cfg.Contain.Policy.Management, p)
		}
	}
	ports, err := uintList(v.Get("contain.management.ports"))
	if err != nil {
		return Config{}, usagef("contain.management.ports: %v", err)
	}
	cfg.Contain.Policy.ManagementPorts = ports
	ap := v.GetUint("contain.agent_port")
	if ap == 0 || ap > 65535 {
		return Config{}, usagef("contain.agent_port: %d is not a port", ap)
	}
	cfg.Contain.Policy.AgentPort = uint16(ap)
	ttl, err := time.ParseDuration(v.GetString("contain.ttl"))
	if err != nil || ttl <= 0 {
		return Config{}, usagef("contain.ttl: %q is not a positive duration", v.GetString("contain.ttl"))
	}
	cfg.Contain.TTL = ttl
	cfg.Contain.AgentNetNS = v.GetString("contain.agent.netns")
	return cfg, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// uintList accepts the shapes a port list arrives in: a YAML list, a flag's
// []uint, or an env var "22,2222".
func uintList(raw any) ([]uint16, error) {
	var items []string
	switch x := raw.(type) {
	case nil:
	case []uint:
		for _, u := range x {
			items = append(items, fmt.Sprint(u))
		}
	case []any:
		for _, u := range x {
			items = append(items, fmt.Sprint(u))
		}
	case []string:
		items = x
	case string:
		items = strings.Split(x, ",")
	default:
		items = []string{fmt.Sprint(x)}
	}
	var out []uint16
	for _, it := range items {
		it = strings.TrimSpace(strings.Trim(it, "[]"))
		if it == "" {
			continue
		}
		var p uint
		if _, err := fmt.Sscan(it, &p); err != nil || p == 0 || p > 65535 {
			return nil, fmt.Errorf("%q is not a port", it)
		}
		out = append(out, uint16(p))
	}
	return out, nil
}

// readClasses reads simulate.port_classes and simulate.other_class. A list in
// the config replaces the built-in classes entirely.
func readClasses(v *viper.Viper, o *simulate.Options) error {
	if raw := v.Get("simulate.port_classes"); raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return usagef("config: simulate.port_classes: want a list of classes")
		}
		o.Classes = []simulate.PortClass{}
		for i, item := range list {
			c, err := readClass(fmt.Sprintf("simulate.port_classes[%d]", i), item, true)
			if err != nil {
				return err
			}
			o.Classes = append(o.Classes, c)
		}
	}
	if raw := v.Get("simulate.other_class"); raw != nil {
		c, err := readClass("simulate.other_class", raw, false)
		if err != nil {
			return err
		}
		if c.Name == "" {
			c.Name = "other"
		}
		o.Other = c
	}
	if err := o.Validate(); err != nil {
		return usagef("config: %v", err)
	}
	return nil
}

func readClass(field string, raw any, needPorts bool) (simulate.PortClass, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return simulate.PortClass{}, usagef("config: %s: want a mapping", field)
	}
	var c simulate.PortClass
	for k, val := range m {
		switch k {
		case "name":
			c.Name = fmt.Sprint(val)
		case "ports":
			items, ok := val.([]any)
			if !ok {
				return c, usagef("config: %s.ports: want a list", field)
			}
			for _, it := range items {
				p, err := graph.ParsePortRange(fmt.Sprint(it))
				if err != nil {
					return c, usagef("config: %s.ports: %q: want N, N/tcp or LO-HI/proto", field, it)
				}
				c.Ports = append(c.Ports, p)
			}
		case "dwell":
			d, err := time.ParseDuration(fmt.Sprint(val))
			if err != nil || d < 0 {
				return c, usagef("config: %s.dwell: %q is not a duration like 10m", field, val)
			}
			c.Dwell = d
		case "probability":
			var f float64
			if _, err := fmt.Sscan(fmt.Sprint(val), &f); err != nil || f < 0 || f > 1 {
				return c, usagef("config: %s.probability: %v is not within 0..1", field, val)
			}
			c.Probability = f
		case "lateral":
			b, ok := val.(bool)
			if !ok {
				return c, usagef("config: %s.lateral: want true or false", field)
			}
			c.Lateral = b
		default:
			return c, usagef("config: %s.%s: unknown field", field, k)
		}
	}
	if needPorts && len(c.Ports) == 0 {
		return c, usagef("config: %s: a port class needs ports", field)
	}
	return c, nil
}
