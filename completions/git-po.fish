# fish completion for git po: `git po ...` and `git-po ...`.
#
# Install as ~/.config/fish/conf.d/git-po.fish, so `git po <Tab>` completes in every fish
# version; as ~/.config/fish/completions/git-po.fish it is loaded only for `git-po`, and for
# `git po` only by fish versions whose git completion hands git-* commands over to their own
# completions.
#
# Kept in step with git_po/cli.py by tests/test_docs.py.

function __git_po_plans --description 'Plans started in this repository'
    if functions -q __fish_git
        __fish_git for-each-ref --format='%(refname)' 'refs/po/*/plan'
    else
        command git for-each-ref --format='%(refname)' 'refs/po/*/plan' 2>/dev/null
    end | string replace -rf '^refs/po/([^/]+)/plan$' '$1'
end

set -g __git_po_subcommands start resume answer retry stop pause unpause status demo logs show diff report config init schema attach sessions web completion man integrate clean doctor plan trust fetch push sync work

function __git_po_tasks --description 'Task ids of the plan given with --plan, else of every plan'
    set -l plan
    set -l tokens (commandline -opc)
    for i in (seq (count $tokens))
        switch $tokens[$i]
            case -p --plan
                set -l j (math $i + 1)
                test $j -le (count $tokens); and set plan $tokens[$j]
            case '--plan=*'
                set plan (string replace -- '--plan=' '' $tokens[$i])
        end
    end
    set -l plans (__git_po_plans)
    if functions -q __fish_git
        __fish_git for-each-ref --format='%(refname)' refs/po/
    else
        command git for-each-ref --format='%(refname)' refs/po/ 2>/dev/null
    end | string replace -rf '^refs/po/([^/]+)/tasks/([^/]+)$' '$1/$2' | while read -l pt
        set -l parts (string split -m1 / $pt)
        if test -n "$plan"
            test "$parts[1]" = "$plan"; and echo $parts[2]
        else
            echo $parts[2]
            test (count $plans) -gt 1; and echo $pt
        end
    end | sort -u
end

function __git_po_needs_arg --description 'Whether the git po command on the line has no argument yet'
    set -l seen 0
    set -l skip 0
    for t in (commandline -opc)[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case -j --max-workers --claude -p --plan --attempt --interval --share --remote --format --only --branch --into --resolve
                set skip 1
            case '-*'
            case $__git_po_subcommands
                if test $seen -eq 0
                    set seen 1
                else
                    return 1
                end
            case '*'
                test $seen -eq 1
                and return 1
        end
    end
    return 0
end

function __git_po_branches --description 'Local branches'
    command git for-each-ref --format='%(refname:short)' refs/heads/ 2>/dev/null
end

function __git_po_is_git_po --description 'Whether the command line is git po'
    functions -q __fish_git_using_command
    and __fish_git_using_command po
end

# `git p<Tab>` offers po (fish's own list of git-* commands is not complete in every version)
complete -c git -n 'functions -q __fish_git_needs_command; and __fish_git_needs_command' -a po -d 'Run coding agents in parallel (git po)'

for __git_po_cmd in git-po git
    if test $__git_po_cmd = git
        set -f po '__git_po_is_git_po; and '
    else
        set -f po ''
    end
    set -l top "$po"'not __fish_seen_subcommand_from $__git_po_subcommands'
    set -l start "$po"'__fish_seen_subcommand_from start'
    set -l status_ "$po"'__fish_seen_subcommand_from status'
    set -l trust_ "$po"'__fish_seen_subcommand_from trust'
    set -l demo "$po"'__fish_seen_subcommand_from demo'

    # no file names unless asked for below
    complete -c $__git_po_cmd -n "$po"'true' -f

    # options of every command (and of git po itself)
    complete -c $__git_po_cmd -n "$po"'true' -l color -x -a 'auto always never' -d 'Colour: auto, always or never'
    complete -c $__git_po_cmd -n "$po"'true' -s q -l quiet -d 'Print only errors, warnings and what was asked for'
    complete -c $__git_po_cmd -n "$po"'true' -s v -l verbose -d 'Also print each command git po runs'

    # git po
    complete -c $__git_po_cmd -n $top -l version -d 'Show the version and exit'
    complete -c $__git_po_cmd -n $top -s h -l help -d 'List the commands and exit'
    complete -c $__git_po_cmd -n $top -a start -d 'Validate a plan, record it under refs/po/ and run its tasks'
    complete -c $__git_po_cmd -n $top -a resume -d 'Continue a run that stopped (crash, Ctrl-C, waiting tasks)'
    complete -c $__git_po_cmd -n $top -a answer -d 'Answer a blocked task; its worker resumes'
    complete -c $__git_po_cmd -n $top -a retry -d 'Run a task again, retries counted afresh'
    complete -c $__git_po_cmd -n $top -a stop -d 'Stop one task of a running plan, saving its work'
    complete -c $__git_po_cmd -n $top -a pause -d 'Stop a task saving its work; not scheduled until unpause'
    complete -c $__git_po_cmd -n $top -a unpause -d "Resume a paused task; its worker's session continues"
    complete -c $__git_po_cmd -n $top -a status -d 'Show the tasks of a plan, read from refs and branches'
    complete -c $__git_po_cmd -n $top -a demo -d 'Run a sample plan with the offline shell agent'

    complete -c $__git_po_cmd -n $top -a logs -d "Show a task's transcript, rendered readably"
    complete -c $__git_po_cmd -n $top -a show -d 'Show everything about a task'
    complete -c $__git_po_cmd -n $top -a diff -d "Show a task's change against its base"
    complete -c $__git_po_cmd -n $top -a report -d 'Sum up a run: per task, totals, wall time, speed-up'
    complete -c $__git_po_cmd -n $top -a config -d 'List the po.* settings and where they come from'
    complete -c $__git_po_cmd -n $top -a init -d 'Prepare the repository: hook shim, decorations, refspecs'
    complete -c $__git_po_cmd -n $top -a schema -d 'Print a JSON Schema of the plan format'
    complete -c $__git_po_cmd -n $top -a attach -d "Talk to a task's worker in Claude Code"
    complete -c $__git_po_cmd -n $top -a sessions -d 'List the Claude Code sessions of the plans'
    complete -c $__git_po_cmd -n $top -a web -d 'Serve a live dashboard of the plans in the browser'
    complete -c $__git_po_cmd -n $top -a completion -d 'Print the completion script for a shell'
    complete -c $__git_po_cmd -n $top -a man -d 'Show the manual page, or install it'
    complete -c $__git_po_cmd -n $top -a integrate -d 'Merge complete tasks into the integration branch'
    complete -c $__git_po_cmd -n $top -a clean -d 'Remove worktrees and branches whose work is safe'
    complete -c $__git_po_cmd -n $top -a doctor -d 'Say what would stop workers from writing or committing'
    complete -c $__git_po_cmd -n $top -a plan -d 'Draft a plan from documents, or check one'
    complete -c $__git_po_cmd -n $top -a fetch -d "Fetch git po's refs from a remote, never backwards"
    complete -c $__git_po_cmd -n $top -a push -d "Push a plan's refs to a remote, each with a lease"
    complete -c $__git_po_cmd -n $top -a sync -d 'Fetch, then push'
    complete -c $__git_po_cmd -n $top -a work -d 'Work on a plan published on a remote, beside other machines'

    # git po start [options] PLAN_FILE
    complete -c $__git_po_cmd -n $start -s n -l dry-run -d 'Validate the plan and print the schedule; write nothing'
    complete -c $__git_po_cmd -n $start -s j -l max-workers -x -d 'Most workers at once'
    complete -c $__git_po_cmd -n $start -l claude -r -F -d 'The claude executable'
    complete -c $__git_po_cmd -n $start -l restart -d 'Start over a plan whose earlier run did not finish'
    complete -c $__git_po_cmd -n $start -l no-live -d 'One line per state change even on a terminal'
    complete -c $__git_po_cmd -n $start -l remote -x -a '(command git remote 2>/dev/null)' -d 'Publish the plan on REMOTE and work on it'
    complete -c $__git_po_cmd -n $start -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$start; and __git_po_needs_arg" -k -a '(__fish_complete_suffix .toml)'

    # git po trust [options] [PLAN]
    complete -c $__git_po_cmd -n $top -a trust -d 'Approve a plan revision from refs so its commands may run here'
    complete -c $__git_po_cmd -n $trust_ -l show -d 'Show what changed since the last trusted revision; approve nothing'
    complete -c $__git_po_cmd -n $trust_ -l diff -d 'Same as --show'
    complete -c $__git_po_cmd -n $trust_ -s y -l yes -d 'Approve without asking'
    complete -c $__git_po_cmd -n $trust_ -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$trust_; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan

    # git po status [options] [PLAN]
    complete -c $__git_po_cmd -n $status_ -l json -d 'Print a stable JSON object'
    complete -c $__git_po_cmd -n $status_ -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n $status_ -s w -l watch -d 'Keep the table up to date until the run ends'
    complete -c $__git_po_cmd -n $status_ -l interval -x -d 'Seconds between refreshes with --watch'
    complete -c $__git_po_cmd -n $status_ -l remote -x -a '(command git remote 2>/dev/null)' -d "Show a remote's state"
    complete -c $__git_po_cmd -n "$status_; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan

    # git po logs|show|attach [options] TASK
    set -l logs "$po"'__fish_seen_subcommand_from logs'
    set -l show "$po"'__fish_seen_subcommand_from show'
    set -l attach "$po"'__fish_seen_subcommand_from attach'
    set -l diff "$po"'__fish_seen_subcommand_from diff'
    set -l tasks "$po"'__fish_seen_subcommand_from logs show diff attach answer retry stop pause unpause'
    set -l resume "$po"'__fish_seen_subcommand_from resume'
    set -l answer "$po"'__fish_seen_subcommand_from answer'
    set -l retry "$po"'__fish_seen_subcommand_from retry'
    set -l unpause "$po"'__fish_seen_subcommand_from unpause'
    complete -c $__git_po_cmd -n $resume -s j -l max-workers -x -d 'Most workers at once'
    complete -c $__git_po_cmd -n $resume -l claude -r -F -d 'The claude executable'
    complete -c $__git_po_cmd -n $resume -l no-live -d 'One line per state change even on a terminal'
    complete -c $__git_po_cmd -n $resume -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$resume; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan
    complete -c $__git_po_cmd -n $answer -s F -l file -r -F -d 'Read the answer from a file'
    complete -c $__git_po_cmd -n "$answer; or $retry; or $unpause" -l no-live -d 'One line per state change even on a terminal'
    complete -c $__git_po_cmd -n $retry -l note -x -d 'A note for the next attempt'
    complete -c $__git_po_cmd -n $tasks -s p -l plan -x -a '(__git_po_plans)' -d 'The plan of the task'
    complete -c $__git_po_cmd -n $tasks -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$tasks; and __git_po_needs_arg" -a '(__git_po_tasks)' -d Task
    complete -c $__git_po_cmd -n $logs -l attempt -x -d 'Show attempt N (default: the last)'
    complete -c $__git_po_cmd -n $logs -s f -l follow -d 'Print the transcript as the worker writes it'
    complete -c $__git_po_cmd -n $logs -l raw -d 'Print the transcript file as it is'
    complete -c $__git_po_cmd -n $logs -l json -d 'Print the attempt and its rendered lines as JSON'
    complete -c $__git_po_cmd -n $show -l json -d 'Print a stable JSON object'
    complete -c $__git_po_cmd -n $diff -l stat -d 'Show a diffstat'
    complete -c $__git_po_cmd -n $diff -l name-only -d 'Show only the names of changed files'
    complete -c $__git_po_cmd -n $attach -l claude -r -F -d 'The claude executable'

    # git po report [--format md|json] [PLAN]
    set -l report "$po"'__fish_seen_subcommand_from report'
    complete -c $__git_po_cmd -n $report -l format -x -a 'md json' -d 'Output format'
    complete -c $__git_po_cmd -n $report -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$report; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan

    # git po config [--json]; git po schema; git po completion SHELL
    set -l config "$po"'__fish_seen_subcommand_from config'
    complete -c $__git_po_cmd -n $config -l json -d 'Print a stable JSON object'
    set -l other "$po"'__fish_seen_subcommand_from config schema completion man'
    complete -c $__git_po_cmd -n $other -s h -l help -d 'Show help and exit'
    set -l completion "$po"'__fish_seen_subcommand_from completion'
    complete -c $__git_po_cmd -n $completion -l install -d 'Write it where the shell loads it from'
    set -l man "$po"'__fish_seen_subcommand_from man'
    complete -c $__git_po_cmd -n $man -l install -d 'Copy the page where man finds it'
    complete -c $__git_po_cmd -n $man -l path -d "Print the bundled page's path"
    complete -c $__git_po_cmd -n "$completion; and __git_po_needs_arg" -a 'bash zsh fish' -d Shell

    # git po sessions [--hours N] [--json]; git po web [--port N] [--host H] [--open] [--token T]
    set -l sessions "$po"'__fish_seen_subcommand_from sessions'
    complete -c $__git_po_cmd -n $sessions -l hours -x -d 'Only sessions active in the last N hours'
    complete -c $__git_po_cmd -n $sessions -l json -d 'Print a stable JSON object'
    set -l web "$po"'__fish_seen_subcommand_from web'
    complete -c $__git_po_cmd -n $web -l port -x -d 'The port to listen on'
    complete -c $__git_po_cmd -n $web -l host -x -d 'The address to bind'
    complete -c $__git_po_cmd -n $web -l open -d 'Open the page in a browser'
    complete -c $__git_po_cmd -n $web -l token -x -d 'The token the page and every request need'
    complete -c $__git_po_cmd -n "$sessions; or $web" -s h -l help -d 'Show help and exit'

    # git po doctor [--claude PATH] [--json] [PLAN_FILE]
    set -l doctor "$po"'__fish_seen_subcommand_from doctor'
    complete -c $__git_po_cmd -n $doctor -l claude -r -F -d 'The claude executable'
    complete -c $__git_po_cmd -n $doctor -l json -d 'Print a stable JSON object'
    complete -c $__git_po_cmd -n $doctor -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$doctor; and __git_po_needs_arg" -k -a '(__fish_complete_suffix .toml)'

    # git po plan draft [options] DOCUMENT...; git po plan check PLAN_FILE
    set -l plan "$po"'__fish_seen_subcommand_from plan'
    set -l plan_top "$plan; and not __fish_seen_subcommand_from draft check"
    set -l draft "$plan; and __fish_seen_subcommand_from draft"
    set -l check "$plan; and __fish_seen_subcommand_from check"
    complete -c $__git_po_cmd -n $plan_top -f -a draft -d 'Write a plan from documents'
    complete -c $__git_po_cmd -n $plan_top -f -a check -d 'Warn about tasks likely to collide'
    complete -c $__git_po_cmd -n $draft -s o -l output -r -F -d 'The plan file to write'
    complete -c $__git_po_cmd -n $draft -l workers -x -d 'Most tasks to run at once'
    complete -c $__git_po_cmd -n $draft -l force -d 'Overwrite the plan file if it exists'
    complete -c $__git_po_cmd -n $draft -l agent -d 'Ask the claude agent to refine the draft'
    complete -c $__git_po_cmd -n $draft -l claude -r -F -d 'The claude executable'
    complete -c $__git_po_cmd -n $draft -l json -d 'Print the manifest as a JSON object'
    complete -c $__git_po_cmd -n "$draft; or $check" -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n $draft -F
    complete -c $__git_po_cmd -n $check -k -a '(__fish_complete_suffix .toml)'

    # git po work --remote REMOTE [options] [PLAN]
    set -l work "$po"'__fish_seen_subcommand_from work'
    complete -c $__git_po_cmd -n $work -l remote -x -a '(command git remote 2>/dev/null)' -d 'The remote that coordinates'
    complete -c $__git_po_cmd -n $work -s j -l max-workers -x -d 'Most workers at once on this machine'
    complete -c $__git_po_cmd -n $work -l claude -r -F -d 'The claude executable'
    complete -c $__git_po_cmd -n $work -l no-live -d 'One line per state change even on a terminal'
    complete -c $__git_po_cmd -n $work -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$work; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan

    # git po fetch|push|sync [REMOTE] [PLAN]
    set -l share "$po"'__fish_seen_subcommand_from fetch push sync'
    complete -c $__git_po_cmd -n $share -s v -l verbose -d 'List refs that did not change too'
    complete -c $__git_po_cmd -n $share -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$share; and __git_po_needs_arg" -a '(command git remote 2>/dev/null)' -d Remote

    # git po init [--share REMOTE] [--no-example] [--uninstall]
    set -l init "$po"'__fish_seen_subcommand_from init'
    complete -c $__git_po_cmd -n $init -l share -x -a '(command git remote 2>/dev/null)' -d "Also fetch git po's refs from REMOTE, aside"
    complete -c $__git_po_cmd -n $init -l no-example -d 'Do not write plan.example.toml'
    complete -c $__git_po_cmd -n $init -l uninstall -d 'Undo init'
    complete -c $__git_po_cmd -n $init -s h -l help -d 'Show help and exit'

    # git po integrate [options] [PLAN]
    set -l integrate "$po"'__fish_seen_subcommand_from integrate'
    complete -c $__git_po_cmd -n $integrate -l only -x -a '(__git_po_tasks)' -d 'Integrate only this task'
    complete -c $__git_po_cmd -n $integrate -s n -l dry-run -d 'Report what would merge and conflict; move no branch'
    complete -c $__git_po_cmd -n $integrate -l branch -x -a '(__git_po_branches)' -d 'The integration branch'
    complete -c $__git_po_cmd -n $integrate -l into -x -a '(__git_po_branches)' -d 'Then advance this branch to the result'
    complete -c $__git_po_cmd -n $integrate -l remote -x -a '(command git remote 2>/dev/null)' -d "Integrate REMOTE's state and push the result"
    complete -c $__git_po_cmd -n $integrate -l resolve -x -a '(__git_po_tasks)' -d 'Prepare a worktree holding the conflicted merge'
    complete -c $__git_po_cmd -n $integrate -l agent -d 'With --resolve: have claude resolve the conflict'
    complete -c $__git_po_cmd -n $integrate -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$integrate; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan

    # git po clean [options] [PLAN]
    set -l clean "$po"'__fish_seen_subcommand_from clean'
    complete -c $__git_po_cmd -n $clean -l branches -d 'Delete the task branches too, once their work is safe'
    complete -c $__git_po_cmd -n $clean -l force -d 'Remove also unsaved work, after keeping it under refs/po/'
    complete -c $__git_po_cmd -n $clean -l all -d "Also delete the plan's refs once everything is integrated"
    complete -c $__git_po_cmd -n $clean -s n -l dry-run -d 'Show what would be removed; remove nothing'
    complete -c $__git_po_cmd -n $clean -l branch -x -a '(__git_po_branches)' -d 'The integration branch'
    complete -c $__git_po_cmd -n $clean -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$clean; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan

    # git po demo [options] [DIRECTORY]
    complete -c $__git_po_cmd -n $demo -s j -l max-workers -x -d 'Most workers at once (default 3)'
    complete -c $__git_po_cmd -n $demo -l no-live -d 'One line per state change even on a terminal'
    complete -c $__git_po_cmd -n $demo -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$demo; and __git_po_needs_arg" -a '(__fish_complete_directories)'
end
set -e __git_po_cmd
