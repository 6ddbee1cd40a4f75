//go:build !linux

package contain

import (
	"context"
	"errors"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// errLabUnsupported: the lab is built from Linux network namespaces.
var errLabUnsupported = errors.New("the lab needs Linux network namespaces")

// LabUp is only available on Linux.
func LabUp(context.Context, *graph.Model, LabOptions) (*LabState, *graph.Model, error) {
	return nil, nil, errLabUnsupported
}

// LabDown is only available on Linux.
func LabDown(context.Context, string, string) error { return errLabUnsupported }

// LabSetLink is only available on Linux.
func LabSetLink(*LabState, string, bool) error { return errLabUnsupported }

// LabNetNSLeft is only available on Linux.
func LabNetNSLeft(string) []string { return nil }

// LabServer runs a lab's responders (Linux only).
type LabServer struct{}

// StartLab is only available on Linux.
func StartLab(*LabState, *graph.Model) (*LabServer, error) { return nil, errLabUnsupported }

// Close does nothing here.
func (*LabServer) Close() error { return nil }

// LabServe is only available on Linux.
func LabServe(context.Context, *LabState, *graph.Model) error { return errLabUnsupported }

// LabProbe is only available on Linux.
func LabProbe(context.Context, *LabState, *graph.Model) ([]simulate.ReportJourney, error) {
	return nil, errLabUnsupported
}

// LabWaitReady is only available on Linux.
func LabWaitReady(context.Context, *LabState) error { return errLabUnsupported }

// LabProbePaths is only available on Linux.
func LabProbePaths(context.Context, *LabState, *graph.Model) ([]simulate.ReportJourney, error) {
	return nil, errLabUnsupported
}
