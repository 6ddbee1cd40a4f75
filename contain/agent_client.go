package contain

// Placeholder: the agent client is being written (helper).

func newAgentTarget(url string, o TargetOptions) (Target, error) { return nil, ErrUnsupported }
