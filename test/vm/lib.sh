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

# Writes $obj/.config from tinyconfig plus the fragment FRAG and checks that
# every option FRAG sets survived olddefconfig.
# tinyconfig re-applies its own tiny.config after KCONFIG_ALLCONFIG, silently
# reverting some options, hence the second merge.
configure() {
	local src=$1 obj=$2 frag=$3 line opt want got bad=0
	mkdir -p "$obj"
	KCONFIG_ALLCONFIG=$frag make -s -C "$src" O="$obj" tinyconfig >/dev/null
	(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" >/dev/null)
	make -s -C "$src" O="$obj" olddefconfig >/dev/null
	while IFS= read -r line; do
		case $line in
		'# CONFIG_'*' is not set') opt=${line#\# }; opt=${opt%% *}; want=n ;;
		CONFIG_*=*) opt=${line%%=*}; want=${line#*=} ;;
		*) continue ;;
		esac
		got=$(sed -n "s/^$opt=//p" "$obj/.config")
		[ -n "$got" ] || got=n
		if [ "$got" != "$want" ]; then
			log "config: $opt wanted $want, got $got"
			bad=1
		fi
	done <"$frag"
	[ $bad = 0 ] || die "kernel config check failed (see ${frag#"$REPO_DIR"/})"
}

kernel_dir() { printf '%s/kernels/%s\n' "$CACHE" "$(kernel_key "$1")"; }
