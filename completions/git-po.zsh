#compdef git-po
#description run coding agents in parallel, each on its own branch and worktree

# zsh completion for git po.
#
# Install this file as _git-po in a directory of $fpath, before compinit runs, e.g.
#     mkdir -p ~/.zfunc && cp git-po.zsh ~/.zfunc/_git-po
#     fpath=(~/.zfunc $fpath); autoload -Uz compinit && compinit
# zsh's git completion then lists `po` among git's commands (with the description above, when
# git-po is on PATH) and calls _git-po to complete `git po ...`; `git-po ...` works too.
# Without the file in $fpath, `zstyle ':completion:*:*:git:*' user-commands po:'parallel agents'`
# at least completes the command name.
#
# Kept in step with git_po/cli.py by tests/test_docs.py.

(( $+functions[__git_po_plans] )) ||
__git_po_plans () {
  local -a plans
  plans=(${${${(f)"$(_call_program plans "git for-each-ref --format='%(refname)' 'refs/po/*/plan'" 2>/dev/null)"}#refs/po/}%/plan})
  plans=(${plans:#*/*})
  _wanted plans expl 'plan' compadd -a plans
}

_git-po () {
  local curcontext=$curcontext state line ret=1
  typeset -A opt_args

  _arguments -C \
    '(- :)--version[show the version and exit]' \
    '(- :)'{-h,--help}'[list the commands and exit]' \
    '1: :->command' \
    '*:: :->argument' && ret=0

  case $state in
    (command)
      local -a cmds
      cmds=(
        'start:validate a plan, record it under refs/po/ and run its tasks'
        'status:show the tasks of a plan, read from refs and branches'
        'demo:run a sample plan with the offline shell agent in a throwaway repository'
      )
      _describe -t commands 'git po command' cmds && ret=0
      ;;
    (argument)
      curcontext=${curcontext%:*}-$words[1]:
      case $words[1] in
        (start)
          _arguments \
            '(-n --dry-run)'{-n,--dry-run}'[validate the plan and print the schedule; write nothing]' \
            '(-j --max-workers)'{-j+,--max-workers=}'[most workers at once]:number of workers' \
            '--claude=[the claude executable]:claude executable:_files' \
            '--restart[start over a plan whose earlier run did not finish]' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan file:_files -g "*.toml(-.)"' && ret=0
          ;;
        (status)
          _arguments \
            '--json[print a stable JSON object]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (demo)
          _arguments \
            '(-j --max-workers)'{-j+,--max-workers=}'[most workers at once (default 3)]:number of workers' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:directory:_directories' && ret=0
          ;;
        (*)
          _message "unknown git po command: $words[1]"
          ;;
      esac
      ;;
  esac
  return ret
}

_git-po "$@"
