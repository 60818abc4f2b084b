package main

// filterCostSection is the per-frame filter cost at 720p and 1080p, before
// and after the cheaper beauty, with the quality figures (issue 15), a
// section of docs/BENCHMARKS.md in Markdown. A stub until then.
func filterCostSection() (string, error) { return "", nil }
