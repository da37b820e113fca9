# bash completion for the fx programs (fx-consume, fx-sink, fx-agg, ...).
# Options come from the program's own --help, so completion never drifts
# from what the program accepts; values are completed where they are known.

_fx_options()
{
	# every --long and -s option in the --help text
	"$1" --help 2>/dev/null | grep -oE '(^|[ ,])--?[A-Za-z][-A-Za-z0-9]*' |
		sed 's/^[ ,]*//' | sort -u
}

_fx()
{
	local cur prev prog=${COMP_WORDS[0]}
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}

	case $prev in
	--format)
		case $prog in
		fx-lineage) COMPREPLY=($(compgen -W "text dot mermaid json" -- "$cur")) ;;
		fx-sink) COMPREPLY=($(compgen -W "ndjson csv" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "ndjson jsonl json csv ndjson+gz csv+gz" -- "$cur")) ;;
		esac
		return ;;
	--window)
		COMPREPLY=($(compgen -W "tumble: hop: cumulate: session:" -- "$cur"))
		compopt -o nospace 2>/dev/null || true
		return ;;
	--late)
		COMPREPLY=($(compgen -W "drop dlq= update" -- "$cur"))
		compopt -o nospace 2>/dev/null || true
		return ;;
	--on-error)
		COMPREPLY=($(compgen -W "fail skip dlq=" -- "$cur"))
		compopt -o nospace 2>/dev/null || true
		return ;;
	--file|--dir|--dim|--right|--table|-F|--kafka-config|--bootstrap-file|--store|--dlq)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac
	if [[ $prog == fx-lineage && $COMP_CWORD -eq 1 && $cur != -* ]]; then
		COMPREPLY=($(compgen -W "runs upstream downstream graph export" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(_fx_options "$prog")" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}

complete -o filenames -F _fx fx-consume fx-sink fx-agg fx-join fx-partition \
	fx-lineage fx-devbroker
