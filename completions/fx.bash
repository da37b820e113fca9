# bash completion for the fx programs (fx-consume, fx-sink, fx-agg, ...).
# Options come from the program's own --help, so completion never drifts
# from what the program accepts; values are completed where they are known.

_fx_options()
{
	# every --long and -s option in the --help text
	"$1" --help 2>/dev/null | grep -oE '(^|[ ,])--?[A-Za-z][-A-Za-z0-9]*' |
		sed 's/^[ ,]*//' | sort -u
}

# _fx_values PROG OPTION VALUE: the values of OPTION that start with VALUE,
# one a line; "FILES" alone for a file name. Returns 1 if OPTION takes no
# value fx knows.
_fx_values()
{
	local prog=$1 opt=$2 val=$3 words
	case $opt in
	--format)
		case $prog in
		fx-lineage) words="text dot mermaid json" ;;
		fx-sink) words="ndjson csv" ;;
		*) words="ndjson jsonl json csv ndjson+gz jsonl+gz json+gz csv+gz" ;;
		esac ;;
	--window) words="tumble: hop: cumulate: session:" ;;
	--overwrite) words="all" ;;
	--emit) words="rows changes" ;;
	--batch) words="all" ;;
	--late | --on-error)
		if [[ $val == dlq=* ]]; then
			echo FILES
			return
		fi
		if [[ $opt == --late ]]; then words="drop update dlq="; else words="fail skip dlq="; fi ;;
	--file | --dir | --dim | --right | --table | -F | --kafka-config | \
		--bootstrap-file | --pid-file | --store | --dlq | --warehouse | --test)
		echo FILES
		return ;;
	*) return 1 ;;
	esac
	compgen -W "$words" -- "$val"
}

_fx()
{
	local prog=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]}
	# bash splits words at = and : too (COMP_WORDBREAKS), so "--window=tu"
	# arrives as three words: work on the shell word before the cursor,
	# and answer with what follows its last = or :, as bash expects.
	local line=${COMP_LINE:0:COMP_POINT}
	local word=${line##*[[:space:]]} before prev opt val values v
	before=${line%"$word"}
	before=${before%"${before##*[![:space:]]}"}
	prev=${before##*[[:space:]]}
	if [[ $word == --*=* ]]; then
		opt=${word%%=*} val=${word#*=}
	elif [[ $prev == -* && $prev != *=* ]]; then
		opt=$prev val=$word
	fi
	COMPREPLY=()
	if [[ -n $opt ]] && values=$(_fx_values "$prog" "$opt" "$val"); then
		if [[ $values == FILES ]]; then
			val=${val#dlq=}
			COMPREPLY=($(compgen -f -- "$val"))
			[[ $val == *[=:]* ]] && COMPREPLY=("${COMPREPLY[@]#"${val%[=:]*}"?}")
			return
		fi
		# strip what bash already took as earlier words (up to the last = or :)
		local done=
		[[ $val == *[=:]* ]] && done=${val%[=:]*}?
		for v in $values; do
			v=${v#$done}
			[[ -n $v ]] && COMPREPLY+=("$v")
		done
		compopt -o nospace 2>/dev/null || true
		# a finished word (skip, csv) gets its space back
		[[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} != *[=:] ]] &&
			compopt +o nospace 2>/dev/null
		return
	fi
	if [[ $prog == fx-lineage && $word != -* ]]; then
		# the first operand is the subcommand (skip options and their values)
		local i operands=0
		for ((i = 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			--store | --format | --depth | --limit | -n | --on-error | --max-record)
				[[ ${COMP_WORDS[i + 1]} == = ]] && ((i++))
				((i++)) ;;
			-*) ;;
			=) ((i++)) ;;
			*) ((operands++)) ;;
			esac
		done
		if ((operands == 0)); then
			COMPREPLY=($(compgen -W "runs upstream downstream graph pipeline export" -- "$cur"))
			return
		fi
	fi
	if [[ $word == -* ]]; then
		COMPREPLY=($(compgen -W "$(_fx_options "$prog")" -- "$word"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$word"))
}

complete -o filenames -F _fx fx-consume fx-sink fx-agg fx-join fx-partition \
	fx-lineage fx-devbroker fx-run
