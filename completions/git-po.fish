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

function __git_po_needs_arg --description 'Whether the git po command on the line has no argument yet'
    set -l seen 0
    set -l skip 0
    for t in (commandline -opc)[2..-1]
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case -j --max-workers --claude
                set skip 1
            case '-*'
            case start status demo
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
    set -l top "$po"'not __fish_seen_subcommand_from start status demo'
    set -l start "$po"'__fish_seen_subcommand_from start'
    set -l status_ "$po"'__fish_seen_subcommand_from status'
    set -l demo "$po"'__fish_seen_subcommand_from demo'

    # no file names unless asked for below
    complete -c $__git_po_cmd -n "$po"'true' -f

    # git po
    complete -c $__git_po_cmd -n $top -l version -d 'Show the version and exit'
    complete -c $__git_po_cmd -n $top -s h -l help -d 'List the commands and exit'
    complete -c $__git_po_cmd -n $top -a start -d 'Validate a plan, record it under refs/po/ and run its tasks'
    complete -c $__git_po_cmd -n $top -a status -d 'Show the tasks of a plan, read from refs and branches'
    complete -c $__git_po_cmd -n $top -a demo -d 'Run a sample plan with the offline shell agent'

    # git po start [options] PLAN_FILE
    complete -c $__git_po_cmd -n $start -s n -l dry-run -d 'Validate the plan and print the schedule; write nothing'
    complete -c $__git_po_cmd -n $start -s j -l max-workers -x -d 'Most workers at once'
    complete -c $__git_po_cmd -n $start -l claude -r -F -d 'The claude executable'
    complete -c $__git_po_cmd -n $start -l restart -d 'Start over a plan whose earlier run did not finish'
    complete -c $__git_po_cmd -n $start -l no-live -d 'One line per state change even on a terminal'
    complete -c $__git_po_cmd -n $start -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$start; and __git_po_needs_arg" -k -a '(__fish_complete_suffix .toml)'

    # git po status [options] [PLAN]
    complete -c $__git_po_cmd -n $status_ -l json -d 'Print a stable JSON object'
    complete -c $__git_po_cmd -n $status_ -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$status_; and __git_po_needs_arg" -a '(__git_po_plans)' -d Plan

    # git po demo [options] [DIRECTORY]
    complete -c $__git_po_cmd -n $demo -s j -l max-workers -x -d 'Most workers at once (default 3)'
    complete -c $__git_po_cmd -n $demo -l no-live -d 'One line per state change even on a terminal'
    complete -c $__git_po_cmd -n $demo -s h -l help -d 'Show help and exit'
    complete -c $__git_po_cmd -n "$demo; and __git_po_needs_arg" -a '(__fish_complete_directories)'
end
set -e __git_po_cmd
