package main

// whipKeyframeSection is the "first keyframe every WHIP server keeps"
// benchmark (issue 15), a section of docs/BENCHMARKS.md in Markdown.
// Owned by the WHIP keyframe work; a stub until then.
func whipKeyframeSection(bin string) (string, error) { return "", nil }
