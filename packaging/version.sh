#!/bin/sh
# version.sh prints the package version from git: the tag vX.Y.Z (plus
# "+gitN.HASH" for commits after it), or 0.0.0~gitDATE.HASH before the first
# tag; "+dirty" when the tree has uncommitted changes. Debian and RPM both
# accept it as an upstream version.
set -eu
cd "$(dirname "$0")/.."
hash=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if tag=$(git describe --tags --match 'v[0-9]*' --abbrev=0 2>/dev/null); then
	base=${tag#v}
	n=$(git rev-list --count "$tag..HEAD")
	if [ "$n" -eq 0 ]; then v=$base; else v="$base+git$n.$hash"; fi
else
	date=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0)
	v="0.0.0~git$date.$hash"
fi
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	v="$v+dirty"
fi
echo "$v"
