# bash completion for git po                                            -*- shell-script -*-
#
# git's own bash completion calls _git_po for `git po <Tab>` (and `git -C dir po <Tab>`), so this
# file only defines that function and its helpers; it needs git's completion loaded first.
# Install it where bash-completion looks for it, e.g.
#     ~/.local/share/bash-completion/completions/git-po
# or source it from ~/.bashrc after git's completion.
#
# Kept in step with git_po/cli.py by tests/test_docs.py.

__git_po_subcommands="start status demo"
__git_po_global_opts="--version --help -h"
__git_po_start_opts="--dry-run -n --max-workers= -j --claude= --restart --no-live --help -h"
__git_po_status_opts="--json --help -h"
__git_po_demo_opts="--max-workers= -j --no-live --help -h"

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
		-j|--max-workers|--claude) ((c++)) ;;
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

	# the value of an option that takes one
	case "$prev" in
	-j|--max-workers)
		return
		;;
	--claude)
		[ "$subcommand" = start ] && __git_po_complete_dir_or_file
		return
		;;
	esac

	case "$subcommand,$cur" in
	start,--max-workers=*|demo,--max-workers=*)
		return
		;;
	start,--claude=*)
		cur=${cur#--claude=}
		__git_po_complete_dir_or_file
		return
		;;
	start,-*)
		__gitcomp "$__git_po_start_opts"
		;;
	status,-*)
		__gitcomp "$__git_po_status_opts"
		;;
	demo,-*)
		__gitcomp "$__git_po_demo_opts"
		;;
	start,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __git_po_complete_plan_file
		;;
	status,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __gitcomp_nl "$(__git_po_plans)"
		;;
	demo,*)
		[ "$(__git_po_count_args "$idx")" -eq 0 ] && __git_po_complete_dir
		;;
	esac
}

# Any path, for --claude PATH.
__git_po_complete_dir_or_file ()
{
	__gitcomp_file "$(__git_po_compgen_in_C -f -- "$cur" | __git_po_hide_dotfiles)" "" "$cur"
}
