package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

// The config file (--config FILE): every push option keyed by its long
// flag name, plus urls: (the destinations, in place of the URL argument).
// A flag on the command line wins over the file.
//
// urfave/cli's altsrc reads YAML into flags too, but it ignores keys it
// does not know and cannot say on which line a bad value is: a typo in a
// kiosk's config must stop it with the line to fix. So the file is read
// with yaml.v3, each key is matched to its flag, and the value is handed
// to that flag's own parser (Context.Set), exactly as if it had been typed.

// configKeyURLs is the one key that is not a flag.
const configKeyURLs = "urls"

// applyConfig reads c's --config file, if any, into c's flags (those not
// set on the command line) and returns its urls. Errors name the file, the
// line and the key, and are usage errors (exit 2).
func applyConfig(c *cli.Context) (urls []string, err error) {
	path := c.String("config")
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--config: %v", err)
	}
	fail := func(line int, format string, args ...any) error {
		return usagef("config %s: line %d: %s", path, line, fmt.Sprintf(format, args...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, usagef("config %s: %s", path, strings.TrimPrefix(oneLine(err.Error()), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, nil // empty: nothing to apply
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "want a mapping of option: value")
	}
	flags := map[string]cli.Flag{}
	var names []string
	for _, f := range c.Command.Flags {
		n := f.Names()[0]
		if n != "config" && n != "help" {
			flags[n] = f
			names = append(names, n)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if seen[key] {
			return nil, fail(k.Line, "%s: given twice", key)
		}
		seen[key] = true
		if key == configKeyURLs {
			if urls, err = scalars(v); err != nil {
				return nil, fail(v.Line, "%s: %v", key, err)
			}
			continue
		}
		f, ok := flags[key]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", key)
			if near := nearest(key, append(names, configKeyURLs)); near != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", near)
			}
			return nil, fail(k.Line, "%s", msg)
		}
		if c.IsSet(key) {
			continue // the command line (or the flag's environment variable) wins
		}
		vals, err := values(f, v)
		if err != nil {
			return nil, fail(v.Line, "%s: %v", key, err)
		}
		for _, s := range vals {
			if err := c.Set(key, s); err != nil {
				return nil, fail(v.Line, "%s: %q: %s", key, s, want(f, err))
			}
		}
	}
	return urls, nil
}

// values are the strings to give flag f for node v: one for a scalar, one
// per element of a list for a repeatable flag.
func values(f cli.Flag, v *yaml.Node) ([]string, error) {
	if _, repeatable := f.(*cli.StringSliceFlag); repeatable {
		return scalars(v)
	}
	if v.Kind != yaml.ScalarNode {
		return nil, errors.New("want a single value, not a list or mapping")
	}
	if v.Tag == "!!null" {
		return nil, errors.New("no value")
	}
	if _, isBool := f.(*cli.BoolFlag); isBool && v.Tag != "!!bool" {
		return nil, fmt.Errorf("%q: want true or false", v.Value)
	}
	return []string{v.Value}, nil
}

// want says what flag f takes, for an error in its value.
func want(f cli.Flag, err error) string {
	switch f.(type) {
	case *cli.IntFlag:
		return "want a whole number"
	case *cli.Float64Flag:
		return "want a number"
	case *cli.DurationFlag:
		return "want a duration like 30s or 1h"
	}
	return err.Error()
}

// scalars reads a list of scalars (or one scalar, a list of one).
func scalars(v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, errors.New("no value")
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, e := range v.Content {
			if e.Kind != yaml.ScalarNode || e.Tag == "!!null" {
				return nil, fmt.Errorf("line %d: want a list of values", e.Line)
			}
			out = append(out, e.Value)
		}
		return out, nil
	}
	return nil, errors.New("want a value or a list of values")
}

// nearest is the name closest to key, if it is close (a typo).
func nearest(key string, names []string) string {
	best, dist := "", 3
	for _, n := range names {
		if d := editDistance(key, n); d < dist {
			best, dist = n, d
		}
	}
	return best
}

// editDistance is Levenshtein's distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
