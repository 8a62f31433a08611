#!/usr/bin/env bash
# Constant-time check (ctgrind technique): runs each secret-handling
# operation under Valgrind's memcheck with its secret inputs marked
# undefined, so memcheck reports every branch and memory address that depends
# on a secret. Every report must be at a site listed, with its reason, in
# tests/ct/ctgrind/allowed.txt; the control targets (bytes.Equal and a
# secret-indexed table) must be reported, which shows the check can fail.
# See docs/constant-time.md. Needs valgrind and its headers (Debian package
# valgrind).
#
# Usage: scripts/ct.sh [target-regex]     (default: all targets)
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "ct.sh: valgrind not found (apt-get install valgrind)" >&2; exit 2; }
[ -f /usr/include/valgrind/memcheck.h ] || { echo "ct.sh: valgrind/memcheck.h not found" >&2; exit 2; }

filter=${1:-.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/ctgrind
allowed=tests/ct/ctgrind/allowed.txt

# -tags valgrind: the Go runtime (1.25+) describes its heap and stacks to
# Valgrind. DWARF 4 because Valgrind 3.19 cannot read Go's DWARF 5.
GOEXPERIMENT=nodwarf5 go build -tags valgrind -o "$bin" ./tests/ct/ctgrind

# Asynchronous preemption spills registers holding secrets into the signal
# frame, which memcheck would report at runtime.asyncPreempt: switch it off.
export GODEBUG=asyncpreemptoff=1

fail=0
printf '%-28s %-6s %8s %6s %6s  %s\n' TARGET KIND ERRORS SITES UNLISTED VERDICT
while read -r target kind; do
	[[ $target =~ $filter ]] || continue
	log=$work/$(echo "$target" | tr / _).log
	rc=0
	valgrind --error-exitcode=99 --num-callers=1 "$bin" -target "$target" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 99 ]; then
		echo "$target: harness failed (exit $rc):" >&2
		tail -20 "$log" >&2
		fail=1
		continue
	fi
	errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log")
	# One site per reporting function (top frame), with its first line.
	sed -n 's/^==[0-9]*==    at 0x[0-9A-Fa-f]*: \(.*\) (\(.*\))$/\1 \2/p' "$log" | sort -u >"$log.sites"
	prefix=${target%%/*}
	unlisted=0
	while read -r fn where; do
		if ! awk -v p="$prefix" -v f="$fn" '$1 == p && $2 == f { found = 1 } END { exit !found }' "$allowed"; then
			echo "    unlisted: $fn ($where)"
			unlisted=$((unlisted + 1))
		fi
	done <"$log.sites" >"$log.unlisted"
	sites=$(cut -d' ' -f1 "$log.sites" | sort -u | wc -l)
	verdict=ok
	if [ "$kind" = leaky ]; then
		unlisted=-
		[ "$errors" -gt 0 ] && verdict="ok (flagged, as it must be)" || { verdict="FAIL: control not flagged"; fail=1; }
	elif [ "$unlisted" -gt 0 ]; then
		verdict="FAIL: secret-dependent site not in allowed.txt"
		fail=1
	fi
	printf '%-28s %-6s %8s %6s %6s  %s\n' "$target" "$kind" "$errors" "$sites" "$unlisted" "$verdict"
	if [ "$kind" = leaky ] || [ "${CT_VERBOSE:-0}" = 1 ]; then
		sed 's/^/    site: /' "$log.sites"
	fi
	if [ "$kind" != leaky ]; then
		cat "$log.unlisted"
	fi
done < <("$bin" -list)

if [ "$fail" -ne 0 ]; then
	echo "ct.sh: FAILED" >&2
	exit 1
fi
echo "ct.sh: all targets as expected"
