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

(( $+functions[__git_po_remotes] )) ||
__git_po_remotes () {
  local -a remotes
  remotes=(${(f)"$(_call_program remotes git remote 2>/dev/null)"})
  _wanted remotes expl 'remote' compadd -a remotes
}

(( $+functions[__git_po_tasks] )) ||
__git_po_tasks () {
  # task ids: of the plan given with --plan/-p, else of every plan (and PLAN/TASK when several)
  local plan=${opt_args[--plan]:-${opt_args[-p]}} ref rest p t
  local -a refs tasks plans
  refs=(${(f)"$(_call_program tasks "git for-each-ref --format='%(refname)' refs/po/" 2>/dev/null)"})
  plans=(${${${(M)refs:#refs/po/*/plan}#refs/po/}%/plan})
  plans=(${plans:#*/*})
  for ref in $refs; do
    rest=${ref#refs/po/}
    p=${rest%%/*}
    rest=${rest#$p/}
    [[ $rest == tasks/* && $rest != tasks/*/* ]] || continue
    t=${rest#tasks/}
    if [[ -n $plan ]]; then
      [[ $p == $plan ]] && tasks+=($t)
    else
      tasks+=($t)
      (( $#plans > 1 )) && tasks+=($p/$t)
    fi
  done
  tasks=(${(u)tasks})
  _wanted tasks expl 'task' compadd -a tasks
}

(( $+functions[__git_po_branches] )) ||
__git_po_branches () {
  local -a branches
  branches=(${${(f)"$(_call_program branches "git for-each-ref --format='%(refname)' refs/heads/" 2>/dev/null)"}#refs/heads/})
  _wanted branches expl 'branch' compadd -a branches
}

# options of every command
__git_po_common=(
  '--color=[colour: auto (on a terminal or git'"'"'s pager), always or never]:when:(auto always never)'
  '(-q --quiet)'{-q,--quiet}'[print only errors, warnings and what was asked for]'
  '(-v --verbose)'{-v,--verbose}'[also print each command git po runs]'
)

_git-po () {
  local curcontext=$curcontext state line ret=1
  typeset -A opt_args

  _arguments -C \
    $__git_po_common \
    '(- :)--version[show the version and exit]' \
    '(- :)'{-h,--help}'[list the commands and exit]' \
    '1: :->command' \
    '*:: :->argument' && ret=0

  case $state in
    (command)
      local -a cmds
      cmds=(
        'start:validate a plan, record it under refs/po/ and run its tasks'
        'resume:continue a run that stopped (crash, Ctrl-C, tasks that wait)'
        'answer:answer a blocked task; its worker resumes with the answer'
        'retry:run a task again, its retries counted afresh'
        'stop:stop one task of a running plan, saving its work'
        'pause:stop a task saving its work, and schedule it no more until unpause'
        'unpause:resume a paused task; its worker'"'"'s session continues'
        'status:show the tasks of a plan, read from refs and branches'
        'integrate:merge the branches of complete tasks into the integration branch'
        'clean:remove worktrees and branches whose work is integrated or saved'
        'demo:run a sample plan with the offline shell agent in a throwaway repository'
        'logs:show a task'"'"'s transcript, rendered readably'
        'show:show everything about a task'
        'diff:show a task'"'"'s change against its base, as git diff does'
        'report:sum up a run: per task and in total, wall time and speed-up'
        'config:list the po.* settings, their values and where they come from'
        'init:prepare the repository: hook shim, log decorations, fetch refspecs, example plan'
        'schema:print a JSON Schema of the plan format'
        'attach:talk to a task'"'"'s worker in an interactive Claude Code session'
        'sessions:list the Claude Code sessions of the plans, with task, worktree and activity'
        'web:serve a live dashboard of the plans in the browser'
        'completion:print the completion script for a shell'
        'man:show the manual page, or install it where man finds it'
        'doctor:say what would stop workers from writing files or committing'
        'plan:draft a plan from documents, or check one for tasks likely to collide'
        'trust:approve a plan revision from refs so its commands may run here'
        'fetch:fetch git po'"'"'s refs from a remote and take them in, never backwards'
        'push:push a plan'"'"'s refs to a remote, each with a lease'
        'sync:fetch, then push'
        'work:work on a plan published on a remote, beside other machines'
      )
      _describe -t commands 'git po command' cmds && ret=0
      ;;
    (argument)
      curcontext=${curcontext%:*}-$words[1]:
      case $words[1] in
        (start)
          _arguments $__git_po_common \
            '(-n --dry-run)'{-n,--dry-run}'[validate the plan and print the schedule; write nothing]' \
            '(-j --max-workers)'{-j+,--max-workers=}'[most workers at once]:number of workers' \
            '--claude=[the claude executable]:claude executable:_files' \
            '--restart[start over a plan whose earlier run did not finish]' \
            '--no-live[print one line per state change even on a terminal]' \
            '--remote=[publish the plan on REMOTE and work on it]:remote:__git_po_remotes' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan file:_files -g "*.toml(-.)"' && ret=0
          ;;
        (work)
          _arguments \
            '--remote=[the remote that coordinates]:remote:__git_po_remotes' \
            '(-j --max-workers)'{-j+,--max-workers=}'[most workers at once on this machine]:number of workers' \
            '--claude=[the claude executable]:claude executable:_files' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (resume)
          _arguments $__git_po_common \
            '(-j --max-workers)'{-j+,--max-workers=}'[most workers at once]:number of workers' \
            '--claude=[the claude executable]:claude executable:_files' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (answer)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '(-F --file)'{-F+,--file=}'[read the answer from a file]:file:_files' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' \
            '2:answer text' && ret=0
          ;;
        (retry)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '--note=[a note for the next attempt]:note' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (stop)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (pause)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (unpause)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (trust)
          _arguments $__git_po_common \
            '(--show --diff)'{--show,--diff}'[show what changed since the last trusted revision; approve nothing]' \
            '(-y --yes)'{-y,--yes}'[approve without asking]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (status)
          _arguments $__git_po_common \
            '--json[print a stable JSON object]' \
            '(-w --watch)'{-w,--watch}'[keep the table up to date until the run ends]' \
            '--interval=[seconds between refreshes with --watch]:seconds' \
            '--remote=[show a remote'"'"'s state, local refs unchanged]:remote:__git_po_remotes' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (fetch|push|sync)
          _arguments $__git_po_common[1,3] \
            '(-v --verbose)'{-v,--verbose}'[list refs that did not change too]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:remote:__git_po_remotes' \
            '2:plan:__git_po_plans' && ret=0
          ;;
        (integrate)
          _arguments $__git_po_common \
            '*--only=[integrate only this task (repeatable)]:task:__git_po_tasks' \
            '(-n --dry-run)'{-n,--dry-run}'[report what would merge and conflict; move no branch]' \
            '--branch=[the integration branch]:branch:__git_po_branches' \
            '--into=[then advance this branch to the integration result]:branch:__git_po_branches' \
            '--resolve=[prepare a worktree holding the conflicted merge of a task]:task:__git_po_tasks' \
            '--agent[with --resolve: have a claude worker resolve the conflict]' \
            '--remote=[integrate the remote'"'"'s state and push the result with leases]:remote:__git_po_remotes' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (clean)
          _arguments $__git_po_common \
            '--branches[delete the task branches too, once their work is safe]' \
            '--force[remove also unsaved work, after keeping it under refs/po/<plan>/wip/]' \
            '--all[also delete the plan'"'"'s refs and files once everything is integrated]' \
            '(-n --dry-run)'{-n,--dry-run}'[show what would be removed; remove nothing]' \
            '--branch=[the integration branch]:branch:__git_po_branches' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (demo)
          _arguments $__git_po_common \
            '(-j --max-workers)'{-j+,--max-workers=}'[most workers at once (default 3)]:number of workers' \
            '--no-live[print one line per state change even on a terminal]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:directory:_directories' && ret=0
          ;;
        (logs)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '--attempt=[show attempt N (default: the last)]:attempt number' \
            '(-f --follow)'{-f,--follow}'[print the transcript as the worker writes it]' \
            '--raw[print the transcript file as it is]' \
            '--json[print the attempt and its rendered lines as JSON]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (show)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '--json[print a stable JSON object]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (diff)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '--stat[show a diffstat]' \
            '--name-only[show only the names of changed files]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (report)
          _arguments $__git_po_common \
            '--format=[output format]:format:(md json)' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan:__git_po_plans' && ret=0
          ;;
        (config)
          _arguments $__git_po_common \
            '--json[print a stable JSON object]' \
            '(- :)'{-h,--help}'[show help and exit]' && ret=0
          ;;
        (init)
          _arguments $__git_po_common \
            '--share=[make git fetch from REMOTE bring git po refs into refs/po-remotes/REMOTE/]:remote:__git_po_remotes' \
            '--no-example[do not write plan.example.toml]' \
            '--uninstall[undo init]' \
            '(- :)'{-h,--help}'[show help and exit]' && ret=0
          ;;
        (doctor)
          _arguments $__git_po_common \
            '--claude=[the claude executable]:claude executable:_files' \
            '--json[print a stable JSON object]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:plan file:_files -g "*.toml(-.)"' && ret=0
          ;;
        (schema)
          _arguments $__git_po_common \
            '(- :)'{-h,--help}'[show help and exit]' && ret=0
          ;;
        (sessions)
          _arguments $__git_po_common \
            '--hours=[only sessions active in the last N hours]:hours' \
            '--json[print a stable JSON object]' \
            '(- :)'{-h,--help}'[show help and exit]' && ret=0
          ;;
        (web)
          _arguments $__git_po_common \
            '--port=[the port to listen on]:port' \
            '--host=[the address to bind]:host:_hosts' \
            '--open[open the page in a browser]' \
            '--token=[the token the page and every request need]:token' \
            '(- :)'{-h,--help}'[show help and exit]' && ret=0
          ;;
        (attach)
          _arguments $__git_po_common \
            '(-p --plan)'{-p+,--plan=}'[the plan of the task]:plan:__git_po_plans' \
            '--claude=[the claude executable]:claude executable:_files' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:task:__git_po_tasks' && ret=0
          ;;
        (completion)
          _arguments $__git_po_common \
            '--install[write it where the shell loads it from]' \
            '(- :)'{-h,--help}'[show help and exit]' \
            '1:shell:(bash zsh fish)' && ret=0
          ;;
        (man)
          _arguments $__git_po_common \
            '--install[copy the page where man finds it]' \
            '--path[print the bundled page'"'"'s path]' \
            '(- :)'{-h,--help}'[show help and exit]' && ret=0
          ;;
        (plan)
          if (( CURRENT == 2 )); then
            local -a subs
            subs=(
              'draft:write a plan from documents: items, dependencies, tasks, a verdict'
              'check:warn about tasks that may run at once and touch the same files'
            )
            _describe -t commands 'git po plan command' subs && ret=0
          else
            case $words[2] in
              (draft)
                _arguments $__git_po_common \
                  '(-o --output)'{-o+,--output=}'[the plan file to write]:plan file:_files' \
                  '--workers=[most tasks to run at once]:number' \
                  '--force[overwrite the plan file if it exists]' \
                  '--agent[ask the claude agent to refine the draft]' \
                  '--claude=[the claude executable]:claude executable:_files' \
                  '--json[print the manifest as a JSON object]' \
                  '(- :)'{-h,--help}'[show help and exit]' \
                  '*:document:_files' && ret=0
                ;;
              (check)
                _arguments $__git_po_common \
                  '(- :)'{-h,--help}'[show help and exit]' \
                  '1:plan file:_files -g "*.toml(-.)"' && ret=0
                ;;
            esac
          fi
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
