#!/usr/bin/env bash
# Runs medchain's Go fuzz targets, one after the other, each for a bounded
# time, and keeps what they found in the repository.
#
#   scripts/fuzz.sh [-t DURATION] [-k KEEP] [-p PARALLEL] [REGEX]
#
#   -t DURATION  how long each target runs (Go duration: 90s, 10m, 2h; default 10m)
#   -k KEEP      copy up to KEEP corpus entries per target that the run
#                added to Go's cache (the smallest first) into the package's
#                testdata/fuzz/NAME/, where `go test` runs them as
#                regression cases (default 0: keep nothing)
#   -p PARALLEL  fuzzing workers per target (default 1; the machine's core count
#                for a dedicated campaign)
#   REGEX        only the targets whose "package.FuzzName" matches (grep -E)
#
# A target that fails stops the script with its failing input written by Go
# under PACKAGE/testdata/fuzz/NAME/ (commit it with the fix, it is the
# regression test) and exit status 1. A summary line per target is printed:
#   ok  ./x/consent FuzzDecode 10m0s  corpus 412 (+37 new, 12 kept)
# See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10m
keep=0
parallel=1
while getopts "t:k:p:" opt; do
	case "$opt" in
	t) duration="$OPTARG" ;;
	k) keep="$OPTARG" ;;
	p) parallel="$OPTARG" ;;
	*) sed -n '2,20p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
filter="${1:-.}"

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
cache="$(go env GOCACHE)/fuzz"
module="$(go list -m)"

# Every "func FuzzX(f *testing.F)" in a _test.go file, as "dir name".
targets="$(grep -rEl --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
	grep -v '^./web/' | sort | while read -r file; do
		dir="$(dirname "$file")"
		grep -Eo '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "$file" |
			sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' |
			while read -r name; do echo "$dir $name"; done
	done)"

count=0
while read -r dir name; do
	[ -n "$dir" ] || continue
	echo "${dir#./}.$name" | grep -Eq -- "$filter" || continue
	count=$((count + 1))
	pkg="$module/${dir#./}"
	corpus="$cache/$pkg/$name"
	before=0
	[ -d "$corpus" ] && before="$(find "$corpus" -type f | wc -l)"
	start="$(date +%s)"
	if ! go test "$dir" -run='^$' -fuzz="^$name\$" -fuzztime="$duration" -parallel="$parallel" >"${TMPDIR:-/tmp}/medchain-fuzz.$$.log" 2>&1; then
		cat "${TMPDIR:-/tmp}/medchain-fuzz.$$.log" >&2
		echo "FAIL $dir $name: the failing input is under $dir/testdata/fuzz/$name/" >&2
		exit 1
	fi
	after=0
	[ -d "$corpus" ] && after="$(find "$corpus" -type f | wc -l)"
	kept=0
	if [ "$keep" -gt 0 ] && [ -d "$corpus" ]; then
		mkdir -p "$dir/testdata/fuzz/$name"
		# The smallest entries first: they cover the most per byte of repository.
		while read -r entry; do
			[ "$kept" -lt "$keep" ] || break
			base="$(basename "$entry")"
			[ -e "$dir/testdata/fuzz/$name/$base" ] && continue
			cp "$entry" "$dir/testdata/fuzz/$name/$base"
			kept=$((kept + 1))
		done < <(find "$corpus" -type f -newermt "@$start" -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
	fi
	elapsed=$(($(date +%s) - start))
	echo "ok  $dir $name ${elapsed}s  corpus $after (+$((after - before)) new, $kept kept)"
done <<<"$targets"
rm -f "${TMPDIR:-/tmp}/medchain-fuzz.$$.log"
if [ "$count" -eq 0 ]; then
	echo "no fuzz target matches $filter" >&2
	exit 1
fi
