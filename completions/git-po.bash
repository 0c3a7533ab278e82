# bash completion for git po                                            -*- shell-script -*-
#
# git's own bash completion calls _git_po for `git po <Tab>` (and `git -C dir po <Tab>`), so this
# file only defines that function and its helpers; it needs git's completion loaded first.
# Install it where bash-completion looks for it, e.g.
#     ~/.local/share/bash-completion/completions/git-po
# or source it from ~/.bashrc after git's completion.
#
# Kept in step with git_po/cli.py by tests/test_docs.py.

__git_po_subcommands="start resume answer retry stop pause unpause status demo logs show diff report config init schema attach sessions web completion man integrate clean doctor plan trust fetch push sync work"
__git_po_global_opts="--version --help -h --color= --quiet -q --verbose -v"
# options of every command
__git_po_common_opts="--color= --quiet -q --verbose -v"
__git_po_start_opts="--dry-run -n --max-workers= -j --claude= --restart --no-live --remote= --help -h"
__git_po_work_opts="--remote= --max-workers= -j --claude= --no-live --help -h"
__git_po_resume_opts="--max-workers= -j --claude= --no-live --help -h"
__git_po_answer_opts="--plan= -p --file= -F --no-live --help -h"
__git_po_retry_opts="--plan= -p --note= --no-live --help -h"
__git_po_stop_opts="--plan= -p --help -h"
__git_po_pause_opts="--plan= -p --help -h"
__git_po_unpause_opts="--plan= -p --no-live --help -h"
__git_po_status_opts="--json --watch -w --interval= --remote= --help -h"
__git_po_trust_opts="--show --diff --yes -y --help -h"
__git_po_integrate_opts="--only= --dry-run -n --branch= --into= --resolve= --agent --remote= --help -h"
__git_po_clean_opts="--branches --force --all --dry-run -n --branch= --help -h"
__git_po_logs_opts="--plan= -p --attempt= --follow -f --raw --json --help -h"
__git_po_show_opts="--plan= -p --json --help -h"
__git_po_diff_opts="--plan= -p --stat --name-only --help -h"
__git_po_report_opts="--format= --help -h"
__git_po_config_opts="--json --help -h"
__git_po_init_opts="--share= --no-example --uninstall --help -h"
__git_po_schema_opts="--help -h"
__git_po_attach_opts="--plan= -p --claude= --help -h"
__git_po_completion_opts="--install --help -h"
__git_po_man_opts="--install --path --help -h"
__git_po_sessions_opts="--hours= --json --help -h"
__git_po_web_opts="--port= --host= --open --token= --help -h"
__git_po_demo_opts="--max-workers= -j --no-live --help -h"
__git_po_doctor_opts="--claude= --json --help -h"
__git_po_fetch_opts="--verbose -v --help -h"
__git_po_push_opts="--verbose -v --help -h"
__git_po_sync_opts="--verbose -v --help -h"
__git_po_plan_subcommands="draft check"
__git_po_plan_draft_opts="--output= -o --workers= --force --agent --claude= --json --help -h"
__git_po_plan_check_opts="--help -h"

# The plans started in the repository: <plan> of every refs/po/<plan>/plan.
__git_po_plans ()
{
	local ref name
	__git for-each-ref --format='%(refname)' 'refs/po/*/plan' 2>/dev/null |
	while read -r ref; do
		name=${ref#refs/po/}
		name=${name%/plan}
		case "$name" in
		*/*|"") ;;
		*) printf '%s\n' "$name" ;;
		esac
	done
}

# Task ids: of the plan named with --plan (or -p) if given; otherwise of every plan, and when
# there are several plans also as PLAN/TASK. Task ids are the names under refs/po/<plan>/tasks/.
__git_po_tasks ()
{
	local plan=$1 ref rest p t several=
	[ "$(__git_po_plans | wc -l)" -gt 1 ] && several=1
	__git for-each-ref --format='%(refname)' 'refs/po/' 2>/dev/null |
	while read -r ref; do
		rest=${ref#refs/po/}
		p=${rest%%/*}
		rest=${rest#"$p"/}
		case "$rest" in
		tasks/*/*|tasks/) continue ;;
		tasks/*) t=${rest#tasks/} ;;
		*) continue ;;
		esac
		if [ -n "$plan" ]; then
			[ "$p" = "$plan" ] && printf '%s\n' "$t"
		else
			printf '%s\n' "$t"
			[ -n "$several" ] && printf '%s/%s\n' "$p" "$t"
		fi
	done | sort -u
}

# The value of --plan/-p on the command line after the subcommand (at index $1), if any.
__git_po_plan_opt ()
{
	local c=$(($1 + 1))
	while [ $c -lt $cword ]; do
		case "${words[c]}" in
		-p|--plan) printf '%s' "${words[c + 1]}"; return ;;
		--plan=*) printf '%s' "${words[c]#--plan=}"; return ;;
		esac
		((c++))
	done
}

# Run compgen in the directory `git -C ...` names, so paths complete relative to it.
__git_po_compgen_in_C ()
{
	(
		local i dir
		for ((i = 1; i < ${#__git_C_args[@]}; i += 2)); do
			dir=${__git_C_args[i]}
			dir=${dir/#\~/$HOME}
			cd -- "$dir" 2>/dev/null || exit 0
		done
		compgen "$@"
	)
}

# Plan files (*.toml) and directories that may hold them.
__git_po_complete_plan_file ()
{
	__gitcomp_file "$(
		{
			__git_po_compgen_in_C -d -- "$cur"
			__git_po_compgen_in_C -f -X '!*.toml' -- "$cur"
		} | __git_po_hide_dotfiles
	)" "" "$cur"
}

__git_po_complete_dir ()
{
	__gitcomp_file "$(__git_po_compgen_in_C -d -- "$cur" | __git_po_hide_dotfiles)" "" "$cur"
}

# Drop hidden entries (.git, ...) unless the word being completed names one.
__git_po_hide_dotfiles ()
{
	local path
	while IFS= read -r path; do
		case "${cur##*/},${path##*/}" in
		.*,*|*,[!.]*) printf '%s\n' "$path" ;;
		esac
	done
}

# How many words after the subcommand (at index $1) are arguments, not options or their values.
__git_po_count_args ()
{
	local c=$(($1 + 1)) n=0
	while [ $c -lt $cword ]; do
		case "${words[c]}" in
		-j|--max-workers|--claude|-p|--plan|--attempt|--interval|--share|--format|-F|--file|--note|--only|--branch|--into|--resolve) ((c++)) ;;
		-*) ;;
		*) ((n++)) ;;
		esac
		((c++))
	done
	echo $n
}

_git_po ()
{
	local subcommand idx c
	subcommand="$(__git_find_on_cmdline "$__git_po_subcommands")"
	if [ -z "$subcommand" ]; then
		case "$cur" in
		-*) __gitcomp "$__git_po_global_opts" ;;
		*) __gitcomp "$__git_po_subcommands" ;;
		esac
		return
	fi
	c=${__git_cmd_idx:-1}
	while [ $c -lt $cword ] && [ "${words[c]}" != "$subcommand" ]; do
		((c++))
	done
	idx=$c
	if [ "$subcommand" = plan ]; then
		__git_po_plan "$idx"
		return
	fi

	# the value of an option that takes one
	case "$prev" in
	-j|--max-workers|--attempt|--interval)
		return
		;;
	--claude)
		__git_po_complete_dir_or_file
		return
		;;
	-p|--plan)
		__gitcomp_nl "$(__git_po_plans)"
		return
		;;
	--share)
		__gitcomp_nl "$(__git_remotes)"
		return
		;;
	--format)
		__gitcomp "md json"
		return
		;;
	--branch|--into)
		__gitcomp_nl "$(__git_heads)"
		return
		;;
	--only|--resolve)
		__gitcomp_nl "$(__git_po_tasks "")"
		return
		;;
	esac

	case "$subcommand,$cur" in
	*,--max-workers=*|*,--attempt=*|*,--interval=*)
		return
		;;
	*,--claude=*)
		cur=${cur#--claude=}
		__git_po_complete_dir_or_file
		return
		;;
	*,--plan=*)
		__gitcomp_nl "$(__git_po_plans)" "" "${cur#--plan=}"
		return
		;;
	*,--share=*)
		__gitcomp_nl "$(__git_remotes)" "" "${cur#--share=}"
		return
		;;
	*,--remote=*)
		__gitcomp_nl "$(__git_remotes)" "" "${cur#--remote=}"
		return
		;;
	*,--color=*)
		__gitcomp "auto always never" "" "${cur#--color=}"
		return
		;;
	work,-*)
		__gitcomp "$__git_po_work_opts"
		;;
	work,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __gitcomp_nl "$(__git_po_plans)"
		;;
	fetch,-*|push,-*|sync,-*)
		local opts="__git_po_${subcommand}_opts"
		__gitcomp "${!opts} $__git_po_common_opts"
		;;
	fetch,*|push,*|sync,*)
		case "$(__git_po_count_args "$idx")" in
		0) __gitcomp_nl "$(__git_remotes)" ;;
		1) __gitcomp_nl "$(__git_po_plans)" ;;
		esac
		;;
	*,--format=*)
		__gitcomp "md json" "" "${cur#--format=}"
		return
		;;
	start,-*)
		__gitcomp "$__git_po_start_opts $__git_po_common_opts"
		;;
	status,-*)
		__gitcomp "$__git_po_status_opts $__git_po_common_opts"
		;;
	resume,-*)
		__gitcomp "$__git_po_resume_opts $__git_po_common_opts"
		;;
	answer,-*)
		__gitcomp "$__git_po_answer_opts $__git_po_common_opts"
		;;
	retry,-*)
		__gitcomp "$__git_po_retry_opts $__git_po_common_opts"
		;;
	stop,-*)
		__gitcomp "$__git_po_stop_opts $__git_po_common_opts"
		;;
	pause,-*)
		__gitcomp "$__git_po_pause_opts $__git_po_common_opts"
		;;
	unpause,-*)
		__gitcomp "$__git_po_unpause_opts $__git_po_common_opts"
		;;
	resume,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __gitcomp_nl "$(__git_po_plans)"
		;;
	answer,*|retry,*|stop,*|pause,*|unpause,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] &&
			__gitcomp_nl "$(__git_po_tasks "$(__git_po_plan_opt "$idx")")"
		;;
	demo,-*)
		__gitcomp "$__git_po_demo_opts $__git_po_common_opts"
		;;
	start,*|doctor,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __git_po_complete_plan_file
		;;
	status,*|trust,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __gitcomp_nl "$(__git_po_plans)"
		;;
	demo,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __git_po_complete_dir
		;;
	logs,-*|show,-*|diff,-*|report,-*|config,-*|init,-*|schema,-*|attach,-*|completion,-*|man,-*|doctor,-*|trust,-*|sessions,-*|web,-*)
		local opts="__git_po_${subcommand}_opts"
		__gitcomp "${!opts} $__git_po_common_opts"
		;;
	logs,*|show,*|diff,*|attach,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] &&
			__gitcomp_nl "$(__git_po_tasks "$(__git_po_plan_opt "$idx")")"
		;;
	report,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __gitcomp_nl "$(__git_po_plans)"
		;;
	*,--branch=*|*,--into=*)
		__gitcomp_nl "$(__git_heads)" "" "${cur#*=}"
		return
		;;
	*,--only=*|*,--resolve=*)
		__gitcomp_nl "$(__git_po_tasks "")" "" "${cur#*=}"
		return
		;;
	integrate,-*|clean,-*)
		local opts="__git_po_${subcommand}_opts"
		__gitcomp "${!opts} $__git_po_common_opts"
		;;
	integrate,*|clean,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __gitcomp_nl "$(__git_po_plans)"
		;;
	completion,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __gitcomp "bash zsh fish"
		;;
	esac
}

# git po plan draft|check: the subcommand, then its options and files.
__git_po_plan ()
{
	local sub="" c=$(($1 + 1))
	while [ $c -lt $cword ]; do
		case "${words[c]}" in
		draft|check) sub=${words[c]}; break ;;
		esac
		((c++))
	done
	case "$sub,$prev,$cur" in
	,*)
		__gitcomp "$__git_po_plan_subcommands"
		;;
	draft,-o,*|draft,--output,*)
		__git_po_complete_dir_or_file
		;;
	draft,--workers,*)
		;;
	draft,--claude,*)
		__git_po_complete_dir_or_file
		;;
	draft,*,--output=*|draft,*,--claude=*)
		cur=${cur#*=}
		__git_po_complete_dir_or_file
		;;
	draft,*,-*)
		__gitcomp "$__git_po_plan_draft_opts $__git_po_common_opts"
		;;
	draft,*)
		__git_po_complete_dir_or_file
		;;
	check,*,-*)
		__gitcomp "$__git_po_plan_check_opts $__git_po_common_opts"
		;;
	check,*)
		__git_po_complete_plan_file
		;;
	esac
}

# Any path, for --claude PATH.
__git_po_complete_dir_or_file ()
{
	__gitcomp_file "$(__git_po_compgen_in_C -f -- "$cur" | __git_po_hide_dotfiles)" "" "$cur"
}
