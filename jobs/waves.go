package jobs

// stageReads is the registry's Reads of stage (pipeline.Runner.Reads):
// ok only for a registered stage that declares them.
func stageReads(stage string) ([]string, bool) {
	for _, s := range Stages {
		if s.Name == stage {
			return s.Reads, s.Reads != nil
		}
	}
	return nil, false
}
