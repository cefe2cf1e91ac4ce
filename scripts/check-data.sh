#!/usr/bin/env bash
# Verifies the evaluation sets in data/ against the sha256 sums in data/README.md.
# Usage: scripts/check-data.sh [DATA_DIR]   (default: the repository's data/). Exit 0 all match, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$here/data}
status=0
while IFS='|' read -r _ file _ _ _ _ sum _; do
  file=$(echo "$file" | tr -d ' `'); sum=$(echo "$sum" | tr -d ' ')
  case "$file" in */test.jsonl) ;; *) continue ;; esac
  if [ ! -f "$dir/$file" ]; then echo "check-data: $dir/$file: missing" >&2; status=1; continue; fi
  got=$(sha256sum "$dir/$file" | cut -d' ' -f1)
  if [ "$got" = "$sum" ]; then echo "check-data: $file ok"; else echo "check-data: $file: sha256 $got, expected $sum" >&2; status=1; fi
done < "$here/data/README.md"
exit $status
