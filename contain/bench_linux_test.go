//go:build linux

package contain_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/internal/testutil"
)

// Containment benchmarks (issue 4): applying and reverting a quarantine on
// one host, and on 20 hosts at once. They write real nftables tables in
// network namespaces they create, so they need root.

func benchRoot(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates network namespaces and nftables rules")
	}
}

// quarantineRuleset is the table a 5-minute quarantine of h1 writes.
func quarantineRuleset(b *testing.B) contain.Ruleset {
	plans, err := contain.Plan(testutil.Model(b, estate), policy,
		[]contain.Action{{ID: 1, Kind: contain.Quarantine, Node: "h1", Deadline: now.Add(5 * time.Minute)}}, now)
	if err != nil {
		b.Fatal(err)
	}
	return plans[0].Ruleset
}

func benchNS(b *testing.B, n int) []contain.Target {
	var out []contain.Target
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("fbb-%d-%d", os.Getpid(), i)
		if err := contain.CreateNetNS(name); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { contain.DeleteNetNS(name) })
		t, err := contain.OpenTarget("netns:"+name, contain.TargetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, t)
	}
	return out
}

// timed runs setup (untimed) and op (timed) b.N times and reports the median
// of op as p50-ns/op.
func timed(b *testing.B, setup, op func()) {
	d := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		setup()
		b.StartTimer()
		t := time.Now()
		op()
		d[i] = time.Since(t)
	}
	b.StopTimer()
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns/op")
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkContainOneHost: one atomic batch to quarantine a host, and one to
// revert it (the table removed).
func BenchmarkContainOneHost(b *testing.B) {
	benchRoot(b)
	ctx := context.Background()
	rs := quarantineRuleset(b)
	target := benchNS(b, 1)[0]
	b.Run("apply", func(b *testing.B) {
		timed(b, func() { must(b, target.Apply(ctx, contain.Ruleset{})) }, func() { must(b, target.Apply(ctx, rs)) })
	})
	b.Run("revert", func(b *testing.B) {
		timed(b, func() { must(b, target.Apply(ctx, rs)) }, func() { must(b, target.Apply(ctx, contain.Ruleset{})) })
	})
}

// BenchmarkContain20Hosts: the same on 20 hosts in parallel, as the
// controller applies a change that touches many hosts.
func BenchmarkContain20Hosts(b *testing.B) {
	benchRoot(b)
	ctx := context.Background()
	rs := quarantineRuleset(b)
	targets := benchNS(b, 20)
	all := func(r contain.Ruleset) {
		var wg sync.WaitGroup
		errs := make([]error, len(targets))
		for i, t := range targets {
			wg.Add(1)
			go func(i int, t contain.Target) { defer wg.Done(); errs[i] = t.Apply(ctx, r) }(i, t)
		}
		wg.Wait()
		for _, err := range errs {
			must(b, err)
		}
	}
	b.Run("apply", func(b *testing.B) { timed(b, func() { all(contain.Ruleset{}) }, func() { all(rs) }) })
	b.Run("revert", func(b *testing.B) { timed(b, func() { all(rs) }, func() { all(contain.Ruleset{}) }) })
}
