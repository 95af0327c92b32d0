# Shared by test/vm/setup and test/vm/run (sourced, not executed).

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$RIG_DIR/../.." && pwd)
CACHE=${VFIO_DISPLAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-display}
KERNEL_SRC_PKG=linux-source-6.12
KERNEL_TARBALL=/usr/src/$KERNEL_SRC_PKG.tar.xz
# Bump when the way a kernel is built changes, so cached kernels are rebuilt.
RECIPE_VERSION=1

git_id() { git -c user.name=vfio-display-rig -c user.email=rig@vfio-display.invalid "$@"; }
log() { printf '[rig] %s\n' "$*" >&2; }
die() { printf '[rig] error: %s\n' "$*" >&2; exit 1; }

# The patch files of a variant, in series order (none for stock).
series_files() {
	local variant=$1 name
	[ "$variant" = patched ] || return 0
	[ -f "$REPO_DIR/kernel-patches/series" ] || return 0
	while read -r name; do
		case $name in ''|'#'*) continue ;; esac
		printf '%s\n' "$REPO_DIR/kernel-patches/$name"
	done <"$REPO_DIR/kernel-patches/series"
}

kernel_src_version() {
	dpkg-query -W -f='${Version}' "$KERNEL_SRC_PKG" 2>/dev/null
}

# What a built kernel depends on: source version, recipe, config fragment and
# the patch series. A patched kernel with an empty series is the stock kernel.
kernel_key() {
	local variant=$1 f
	{
		printf 'src %s\nrecipe %s\n' "$(kernel_src_version)" "$RECIPE_VERSION"
		cat "$RIG_DIR/kernel.config"
		series_files "$variant" | while read -r f; do
			[ -f "$f" ] || die "kernel-patches/series names a missing file: $f"
			sha256sum <"$f"
		done
	} | sha256sum | cut -c1-16
}

kernel_dir() { printf '%s/kernels/%s\n' "$CACHE" "$(kernel_key "$1")"; }
