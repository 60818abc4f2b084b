package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

// The shells' completion scripts: urfave/cli's own, which ask golive
// itself (--generate-bash-completion) for the commands and flags.
const (
	bashCompletion = `# golive completion for bash: source <(golive completion bash)
_golive_complete() {
  local cur words cword
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  local opts
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
}
complete -o bashdefault -o default -F _golive_complete golive
`
	zshCompletion = `#compdef golive
# golive completion for zsh: golive completion zsh > "${fpath[1]}/_golive"
_golive() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _golive golive
`
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish   (bash: source <(golive completion bash); fish: golive completion fish > ~/.config/fish/completions/golive.fish)",
		Action: func(c *cli.Context) error {
			switch shell := strings.ToLower(c.Args().First()); shell {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, s)
			default:
				return usagef("completion: want bash, zsh or fish, got %q", shell)
			}
			return nil
		},
	}
}
