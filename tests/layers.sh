#!/usr/bin/env bash
# layers.sh - libfx's layers, as common/README.md maps them.
#
#   tests/layers.sh check [OBJDIR]   fails (exit 1), naming each one, on
#       - a common/*.c that is on no layer of the map;
#       - an object (OBJDIR/NAME.o, default build/obj) that references a
#         symbol defined by a module of a higher layer (nm);
#       - a common/NAME.c or NAME.h that includes the header of a module of
#         a higher layer;
#   tests/layers.sh sources LAYER    the common/*.c of LAYER and the layers
#                                    below it (the fuzz targets' sources)
#   tests/layers.sh map              "LAYER NAME" lines, bottom up
#
# A module on the map whose common/NAME.c does not exist is skipped: the
# map may name a module before it is written.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
readme=$root/common/README.md

# "LAYER NAME" per module, bottom up: "## LAYER" headings, "- `NAME`" items.
map() {
	awk '/^## / { layer = $2; next }
	     layer != "" && /^- `[a-z0-9_]+`/ {
		name = $2; gsub("`", "", name); print layer, name }' "$readme"
}

declare -A layer_of rank_of
layers=()
while read -r layer name; do
	if [ -z "${rank_of[$layer]+x}" ]; then
		rank_of[$layer]=${#layers[@]}
		layers+=("$layer")
	fi
	layer_of[$name]=$layer
done < <(map)
[ ${#layers[@]} -gt 0 ] || { echo "layers: no layers in $readme" >&2; exit 2; }

# A module's rank, in the global "r": no $(...) subshell, which, once per
# symbol of every object, made a check take 50 s of CPU time.
rank() { r=${rank_of[${layer_of[$1]}]}; }

sources() {
	local top=$1 name
	[ -n "${rank_of[$top]+x}" ] || { echo "layers: no layer '$top' in $readme" >&2; exit 2; }
	while read -r layer name; do
		[ "${rank_of[$layer]}" -le "${rank_of[$top]}" ] || continue
		[ -f "$root/common/$name.c" ] && echo "common/$name.c"
	done < <(map)
	return 0
}

check() {
	local objdir=${1:-$root/build/obj} bad=0 f name o sym def inc r mine
	local -a objs=() srcs=()
	declare -A defined_by

	for f in "$root"/common/*.c; do
		name=${f##*/}
		name=${name%.c}
		if [ -z "${layer_of[$name]+x}" ]; then
			echo "layers: common/$name.c is on no layer of common/README.md"
			bad=1
		fi
	done
	for name in "${!layer_of[@]}"; do
		[ -f "$root/common/$name.c" ] || continue
		o=$objdir/$name.o
		if [ ! -f "$o" ]; then
			echo "layers: $o: no object (build it first: make build/libfx.a)"
			bad=1
			continue
		fi
		objs+=("$o")
		srcs+=("$root/common/$name.c")
		[ -f "$root/common/$name.h" ] && srcs+=("$root/common/$name.h")
	done
	[ ${#objs[@]} -gt 0 ] || return $bad
	# One nm and one sed over every file: a process per object (or per
	# symbol) made a check take a minute on a machine where fork is dear.
	# who defines what: global symbols of every mapped object
	while read -r o sym; do
		o=${o%:}
		o=${o##*/}
		defined_by[$sym]=${o%.o}
	done < <(nm -A -P -g --defined-only "${objs[@]}" | awk '{ print $1, $2 }')
	# upward references: by symbol, then by header
	while read -r o sym; do
		name=${o%:}
		name=${name##*/}
		name=${name%.o}
		def=${defined_by[$sym]:-}
		[ -n "$def" ] || continue
		rank "$name"
		mine=$r
		rank "$def"
		[ "$r" -gt "$mine" ] || continue
		echo "layers: common/$name.c (${layer_of[$name]}) uses $sym, from common/$def.c (${layer_of[$def]})"
		bad=1
	done < <(nm -A -P -u "${objs[@]}" | awk '{ print $1, $2 }')
	while IFS=: read -r f inc; do
		[ -n "${layer_of[$inc]+x}" ] || continue
		name=${f##*/}
		name=${name%.[ch]}
		rank "$name"
		mine=$r
		rank "$inc"
		[ "$r" -gt "$mine" ] || continue
		echo "layers: common/${f##*/} (${layer_of[$name]}) includes $inc.h (${layer_of[$inc]})"
		bad=1
	done < <(grep -H -o '^#include "[a-z0-9_]*\.h"' "${srcs[@]}" | sed 's/#include "\([a-z0-9_]*\)\.h"/\1/')
	return $bad
}

case ${1:-check} in
check) check "${2:-}" ;;
sources) sources "${2:?usage: layers.sh sources LAYER}" ;;
map) map ;;
*)
	echo "usage: layers.sh [check [OBJDIR] | sources LAYER | map]" >&2
	exit 2
	;;
esac
