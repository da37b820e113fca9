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

rank() { echo "${rank_of[${layer_of[$1]}]}"; }

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
	local objdir=${1:-$root/build/obj} bad=0 f name o sym def inc
	declare -A defined_by

	for f in "$root"/common/*.c; do
		name=$(basename "$f" .c)
		if [ -z "${layer_of[$name]+x}" ]; then
			echo "layers: common/$name.c is on no layer of common/README.md"
			bad=1
		fi
	done
	# who defines what: global symbols of every mapped object
	for name in "${!layer_of[@]}"; do
		[ -f "$root/common/$name.c" ] || continue
		o=$objdir/$name.o
		if [ ! -f "$o" ]; then
			echo "layers: $o: no object (build it first: make build/libfx.a)"
			bad=1
			continue
		fi
		while read -r sym; do
			defined_by[$sym]=$name
		done < <(nm -P -g --defined-only "$o" | awk '{ print $1 }')
	done
	# upward references: by symbol, then by header
	for name in "${!layer_of[@]}"; do
		o=$objdir/$name.o
		[ -f "$root/common/$name.c" ] && [ -f "$o" ] || continue
		while read -r sym; do
			def=${defined_by[$sym]:-}
			[ -n "$def" ] && [ "$(rank "$def")" -gt "$(rank "$name")" ] || continue
			echo "layers: common/$name.c (${layer_of[$name]}) uses $sym, from common/$def.c (${layer_of[$def]})"
			bad=1
		done < <(nm -P -u "$o" | awk '{ print $1 }')
		for f in "$root/common/$name.c" "$root/common/$name.h"; do
			[ -f "$f" ] || continue
			while read -r inc; do
				[ -n "${layer_of[$inc]+x}" ] || continue
				[ "$(rank "$inc")" -gt "$(rank "$name")" ] || continue
				echo "layers: common/$(basename "$f") (${layer_of[$name]}) includes $inc.h (${layer_of[$inc]})"
				bad=1
			done < <(sed -n 's/^#include "\([a-z0-9_]*\)\.h".*/\1/p' "$f")
		done
	done
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
