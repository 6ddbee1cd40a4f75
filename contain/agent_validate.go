package contain

// Validation of rulesets arriving over the wire, before the host is
// touched: a bad request gets a 400, not a half-understood apply.

// checkRuleset is what the agent requires of a ruleset before touching the
// host: the shared checks, and that every set a rule names is defined (a
// client's mistake gets a 400 here rather than a kernel error).
func checkRuleset(rs Ruleset) error {
	if err := rs.Validate(); err != nil {
		return err
	}
	return rs.CheckRefs()
}
