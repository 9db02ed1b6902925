# shellcheck shell=bash
#
# test/pg_versions.sh: where each PostgreSQL major the tests run on comes from (sourced by test/lib.sh).
#
#   use_pg MAJOR       point PG_CONFIG and PG_BINDIR at MAJOR, installing or building it first:
#                        15  Debian 12's packages (postgresql-15, its -dev package, postgresql-15-cron)
#                        18  built from Debian unstable's source package postgresql-18, with pg_cron
#                            from Debian's pg-cron source, into a cache outside the checkout
#                        17  the same, from the upstream tarball Debian's pool still serves (below)
#   pg_source_build MAJOR   the build of MAJOR from source alone (use_pg calls it)
#
# Building from source: Debian 12 packages no server newer than 15. Debian unstable carries the source
# package postgresql-18. `apt-get source` fetches it through a sources list of our own (the options
# below), so the machine's apt configuration and its package lists are never changed. We build the
# upstream tarball (the .orig.tar; Debian's patches are about Debian's paths and packaging), with TAP
# support (PostgreSQL::Test::Cluster for test/t) and contrib (as Debian's packages have it: the
# regression setup uses dblink, a TAP test auto_explain), then pg_cron. The install lands in $SIGNICAT_PG_CACHE/postgresql-<debian version>: a second
# run finds it there and builds nothing. A version that Debian replaces gets a directory of its own.
#
# When the archive does not serve what its index lists (seen here: pg-cron 1.6.8 of unstable and
# postgresql-17 17.12 of trixie are listed, their files answer 404), an upstream tarball that the
# archive's pool still serves is used instead, pinned by its SHA-256 (PG_POOL_TARBALL below): no
# index vouches for such a file, the pin does. 17 comes only this way (no index lists a 17 that is
# served), so it is not in test/run.sh's default versions.
#
# Settings (environment):
#   SIGNICAT_PG_CACHE  where source builds are kept (default /var/cache/signicat-test, or
#                      ~/.cache/signicat-test when not root)
#   PG_SOURCE_SUITE    the Debian suite whose source packages are used (default unstable)
#   PG_MIRROR          the archive (default http://deb.debian.org/debian)

PG_MIRROR=${PG_MIRROR:-http://deb.debian.org/debian}
PG_SOURCE_SUITE=${PG_SOURCE_SUITE:-unstable}
if [[ -z ${SIGNICAT_PG_CACHE:-} ]]; then
    if [[ $(id -u) -eq 0 ]]; then SIGNICAT_PG_CACHE=/var/cache/signicat-test; else SIGNICAT_PG_CACHE=$HOME/.cache/signicat-test; fi
fi
# source package -> "pool path, its version, SHA-256": the tarball used when the archive does not
# serve the source package its index lists
declare -A PG_POOL_TARBALL=(
    [pg-cron]="pool/main/p/pg-cron/pg-cron_1.6.7.orig.tar.gz 1.6.7 d950bc29155f31017567e23a31d268ff672e98276c0e9d062512fb7870351f03"
    [postgresql-17]="pool/main/p/postgresql-17/postgresql-17_17.11.orig.tar.bz2 17.11 dd27f2b3c59e73ed14aa3324901242bf69a032a6347805f274e6260322d42979"
)

# how the tree is built: a cached tree built another way is built again
PG_SOURCE_CONFIGURE=(--enable-tap-tests --with-openssl --without-icu)
PG_SOURCE_RECIPE="configure ${PG_SOURCE_CONFIGURE[*]}; contrib; pg_cron"

# the packages a build from source needs (bison and flex for the parser, the -dev packages for
# configure's --with-openssl, readline and zlib, dpkg-dev for apt-get source)
PG_SOURCE_BUILD_DEPS=(bison flex libreadline-dev zlib1g-dev libssl-dev bzip2 dpkg-dev)

# _pg_apt ARGS...: apt-get/apt-cache with the private sources list in $SIGNICAT_PG_CACHE/apt.
_pg_apt() {
    local tool=$1
    shift
    "$tool" -o Dir::Etc::sourcelist="$SIGNICAT_PG_CACHE/apt/sources.list" -o Dir::Etc::sourceparts=/dev/null \
        -o Dir::State::lists="$SIGNICAT_PG_CACHE/apt/lists" -o Dir::Cache="$SIGNICAT_PG_CACHE/apt/cache" \
        -o APT::Sandbox::User=root "$@"
}

# _pg_apt_update: write the private sources list (deb-src for $PG_SOURCE_SUITE) and fetch its index.
_pg_apt_update() {
    mkdir -p "$SIGNICAT_PG_CACHE/apt/lists/partial" "$SIGNICAT_PG_CACHE/apt/cache/archives/partial" || return 1
    chmod 755 "$SIGNICAT_PG_CACHE"      # the cluster's OS user runs the servers built in it
    printf 'deb-src %s %s main\n' "$PG_MIRROR" "$PG_SOURCE_SUITE" >"$SIGNICAT_PG_CACHE/apt/sources.list"
    log "fetching the source index of Debian $PG_SOURCE_SUITE (private sources list in $SIGNICAT_PG_CACHE/apt)"
    _pg_apt apt-get -q -q update || { die "apt-get update of the private sources list failed"; return 1; }
}

# _pg_src_version PACKAGE: the newest version of source PACKAGE in the private index.
_pg_src_version() {
    _pg_apt apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1
}

# _pg_source_version PACKAGE: set SRC_VERSION to the version of source PACKAGE that _pg_fetch_source
# will unpack: the newest the private index lists when the archive serves it, else the pinned pool
# tarball's ("" when neither). Sets SRC_FROM to "apt" or "pool".
_pg_source_version() {
    local pkg=$1 v pin dsc
    v=$(_pg_src_version "$pkg")
    SRC_FROM=apt
    SRC_VERSION=$v
    # served: the .dsc that apt-get source would fetch answers (the index can list what is gone)
    dsc=$(_pg_apt apt-get source --print-uris "$pkg=$v" 2>/dev/null | grep -o "^'[^']*\.dsc'" | tr -d "'")
    if [[ -n $v && -n $dsc ]] && curl -fsS -o /dev/null -I --retry 2 "$dsc" 2>/dev/null; then
        return 0
    fi
    pin=${PG_POOL_TARBALL[$pkg]:-}
    if [[ -n $pin ]]; then
        read -r _ SRC_VERSION _ <<<"$pin"
        SRC_FROM=pool
        log "$pkg: the archive does not serve ${v:-any version} of it; using its pinned tarball ${SRC_VERSION}"
        return 0
    fi
    SRC_VERSION=
}

# _pg_fetch_source PACKAGE DIR: fetch the upstream tarball of PACKAGE at SRC_VERSION (as
# _pg_source_version chose) into DIR and unpack it there.
_pg_fetch_source() {
    local pkg=$1 dir=$2 tarball path sum want
    if [[ $SRC_FROM == apt ]]; then
        (cd "$dir" && _pg_apt apt-get -q -q source --download-only "$pkg=$SRC_VERSION") >>"$dir/fetch.log" 2>&1 ||
            { cat "$dir/fetch.log" >&2; die "apt-get source $pkg=$SRC_VERSION failed"; return 1; }
        tarball=$(ls "$dir/${pkg}_${SRC_VERSION%%-*}".orig.tar.* | head -n 1)
        log "$pkg: Debian's source package $SRC_VERSION"
    else
        read -r path _ want <<<"${PG_POOL_TARBALL[$pkg]}"
        tarball="$dir/${path##*/}"
        curl -fsS --retry 3 -o "$tarball" "$PG_MIRROR/$path" ||
            { die "could not download $PG_MIRROR/$path"; return 1; }
        sum=$(sha256sum "$tarball" | awk '{print $1}')
        [[ $sum == "$want" ]] || { die "$tarball: SHA-256 $sum, expected $want"; return 1; }
        log "$pkg: $path (SHA-256 checked)"
    fi
    tar -C "$dir" -xf "$tarball" || { die "could not unpack $tarball"; return 1; }
}

# _pg_complete PREFIX: whether PREFIX is a tree this recipe built to the end.
_pg_complete() {
    [[ -x $1/bin/pg_config && $(cat "$1/.complete" 2>/dev/null) == "$PG_SOURCE_RECIPE" ]]
}

# pg_source_build MAJOR: build PostgreSQL MAJOR (with contrib and pg_cron) from Debian's source package
# unless the cache holds that upstream version; sets PG_SOURCE_PREFIX to the install. Without the
# archive (offline, or it answers nothing), the newest complete cached build of MAJOR serves.
pg_source_build() {
    local major=$1 v='' prefix src log_file start=$SECONDS jobs cached
    if _pg_apt_update; then
        _pg_source_version "postgresql-$major"
        v=$SRC_VERSION
    fi
    if [[ -z $v ]]; then
        cached=$(ls -d "$SIGNICAT_PG_CACHE/postgresql-$major".* 2>/dev/null | sort -V | tac |
            while read -r d; do _pg_complete "$d" && { echo "$d"; break; }; done)
        [[ -n $cached ]] || { die "no source of postgresql-$major can be had (Debian $PG_SOURCE_SUITE, pinned) and none is cached"; return 1; }
        log "PostgreSQL $major: the archive gave no version; using the cached build $cached"
        PG_SOURCE_PREFIX=$cached
        return 0
    fi
    # keyed by the upstream version: a new Debian revision of the same release builds nothing
    prefix="$SIGNICAT_PG_CACHE/postgresql-${v%%-*}"
    PG_SOURCE_PREFIX=$prefix
    if _pg_complete "$prefix"; then
        log "PostgreSQL $major: $prefix (cached build of postgresql-$major ${v%%-*})"
        return 0
    fi
    ensure_debian_packages "${PG_SOURCE_BUILD_DEPS[@]}" || return 1
    src="$SIGNICAT_PG_CACHE/src-$v"
    log_file="$SIGNICAT_PG_CACHE/build-$v.log"
    rm -rf "$src" "$prefix"
    mkdir -p "$src" || return 1
    log "PostgreSQL $major: fetching postgresql-$major $v (build log: $log_file)"
    : >"$log_file"
    _pg_fetch_source "postgresql-$major" "$src" || return 1
    _pg_source_version pg-cron
    [[ -n $SRC_VERSION ]] || { die "Debian $PG_SOURCE_SUITE serves no source of pg-cron, and none is pinned"; return 1; }
    _pg_fetch_source pg-cron "$src" || return 1
    jobs=$(nproc 2>/dev/null || echo 2)
    log "PostgreSQL $major: configure, make -j$jobs, make install into $prefix (a few minutes, once)"
    # (each step chained: set -e does not act in a subshell that is the left side of ||)
    (
        cd "$src"/postgresql-"${v%%-*}" &&
            ./configure --prefix="$prefix" "${PG_SOURCE_CONFIGURE[@]}" &&
            make -j"$jobs" &&
            make install &&
            make -C contrib -j"$jobs" &&
            make -C contrib install &&
            cd "$src"/pg_cron-* &&
            make PG_CONFIG="$prefix/bin/pg_config" &&
            make PG_CONFIG="$prefix/bin/pg_config" install
    ) >>"$log_file" 2>&1 || { tail -n 60 "$log_file" >&2; die "building PostgreSQL $major failed (log: $log_file)"; return 1; }
    chmod -R a+rX "$prefix"
    # the extension's own `make install` writes into this tree, as into /usr for 15; the recipe
    # marks the tree complete
    printf '%s' "$PG_SOURCE_RECIPE" >"$prefix/.complete"
    rm -rf "$src"
    log "PostgreSQL $major: built in $((SECONDS - start)) s"
}

# use_pg MAJOR: make MAJOR the server the following steps build against and run (PG_CONFIG, PG_BINDIR,
# PG_MAJOR).
use_pg() {
    local major=$1
    case $major in
        15)
            PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
            PG_BINDIR=/usr/lib/postgresql/15/bin
            ;;
        *)
            pg_source_build "$major" || return 1
            PG_CONFIG=$PG_SOURCE_PREFIX/bin/pg_config
            PG_BINDIR=$PG_SOURCE_PREFIX/bin
            ;;
    esac
    PG_MAJOR=$major
    export PG_CONFIG PG_BINDIR PG_MAJOR
    log "PostgreSQL $major: $("$PG_CONFIG" --version) ($PG_CONFIG)"
}

# ---- the old cluster of the pg_upgrade test ---------------------------------------------------
#
# test/t/017_pg_upgrade.pl moves a cluster of the first major of the run to a later one. For 15 that
# cluster does not run Debian 12's current 15 (15.20, from bookworm-security): 15.20 gives every
# column a `pg_attver` option (pg_attribute.attoptions) that no 18 we can build knows yet (18.6, of
# unstable, predates 15.20), so pg_upgrade from 15.20 to 18.6 fails on the first table of any
# database ('unrecognized parameter "pg_attver"'), with or without signicat. The test's old cluster
# runs bookworm's own 15 release instead, PG_UPGRADE_OLD_15, unpacked (dpkg-deb -x, not installed)
# into the cache with the extension installed in it.
PG_UPGRADE_OLD_15=15.18-0+deb12u1
# its two packages in the pool, pinned, for when bookworm's index no longer lists that release
PG_UPGRADE_OLD_15_DEBS=(
    "pool/main/p/postgresql-15/postgresql-15_15.18-0+deb12u1_amd64.deb 6974c43ddec4f383d099e7d642cd59d0af83c2c90c0fb153a4179aa1bb4d73c1"
    "pool/main/p/postgresql-15/postgresql-client-15_15.18-0+deb12u1_amd64.deb fc98076d378231baac95d6eae09a3e01730cd706f4d00bbcda6ba580d38355a1"
)

# upgrade_source_tree MAJOR: when MAJOR needs an old tree of its own for the pg_upgrade test, unpack
# it (once) and set UPGRADE_TREE (the root to install the extension into with DESTDIR) and
# UPGRADE_TREE_BINDIR; both are empty when the installed MAJOR serves.
upgrade_source_tree() {
    local major=$1 v tree deb
    UPGRADE_TREE=
    UPGRADE_TREE_BINDIR=
    [[ $major == 15 ]] || return 0
    v=$PG_UPGRADE_OLD_15
    tree="$SIGNICAT_PG_CACHE/debian-postgresql-$major-$v"
    if [[ ! -x $tree/usr/lib/postgresql/$major/bin/postgres ]]; then
        log "pg_upgrade test: unpacking postgresql-$major $v (the old cluster's server; see test/pg_versions.sh)"
        rm -rf "$tree" "$tree.debs"
        mkdir -p "$tree.debs" || return 1
        if ! (cd "$tree.debs" && apt-get -q -q -o APT::Sandbox::User=root download \
                "postgresql-$major=$v" "postgresql-client-$major=$v") >&2; then
            log "pg_upgrade test: apt-get download failed; fetching the pinned packages from the pool"
            rm -f "$tree.debs"/*.deb
            local entry path sum
            for entry in "${PG_UPGRADE_OLD_15_DEBS[@]}"; do
                read -r path sum <<<"$entry"
                curl -fsS --retry 3 -o "$tree.debs/${path##*/}" "$PG_MIRROR/${path//+/%2b}" ||
                    { die "could not download $PG_MIRROR/$path"; return 1; }
                [[ $(sha256sum "$tree.debs/${path##*/}" | awk '{print $1}') == "$sum" ]] ||
                    { die "${path##*/}: not the pinned SHA-256"; return 1; }
            done
        fi
        for deb in "$tree.debs"/*.deb; do
            dpkg-deb -x "$deb" "$tree" || { die "dpkg-deb -x $deb failed"; return 1; }
        done
        rm -rf "$tree.debs"
    fi
    UPGRADE_TREE=$tree
    UPGRADE_TREE_BINDIR="$tree/usr/lib/postgresql/$major/bin"
}
