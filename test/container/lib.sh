# Shared helpers for the container smoke test (sourced, not executed).
#
# podman_setup         writes a containers.conf for this machine and exports
#                      CONTAINERS_CONF (crun fails here on hybrid cgroups and
#                      without CAP_SYS_RESOURCE: use runc and the host limits).
# ensure_base_image    makes sure docker.io/library/node:20-bookworm-slim is in
#                      local storage. When no registry is reachable (this
#                      machine, CI) it builds a local stand-in once with
#                      debootstrap: Debian bookworm minbase + the host's node,
#                      npm and node headers (/usr/local, like the official
#                      image) + the host CA bundle (egress proxy). Cached in
#                      podman storage; later runs reuse it.
#
# Requires: podman, runc; debootstrap for the first stand-in build (root).

STANDIN_IMAGE=docker.io/library/node:20-bookworm-slim

podman_setup() {
  local dir=$1
  export CONTAINERS_CONF=$dir/containers.conf
  cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
runtime = "runc"
EOF
}

# True when $STANDIN_IMAGE exists and carries node headers (the official
# image does; an older stand-in without them is rebuilt).
base_image_ok() {
  podman image exists "$STANDIN_IMAGE" &&
    podman run --rm --network none --entrypoint /bin/sh "$STANDIN_IMAGE" \
      -c 'test -f /usr/local/include/node/common.gypi && node --version >/dev/null' 2>/dev/null
}

ensure_base_image() {
  local work=$1
  if base_image_ok; then
    echo "base image: $STANDIN_IMAGE (cached)"
    return 0
  fi
  if podman pull -q "$STANDIN_IMAGE" >/dev/null 2>&1 && base_image_ok; then
    echo "base image: $STANDIN_IMAGE (pulled)"
    return 0
  fi
  command -v debootstrap >/dev/null || { echo "debootstrap is required to build the stand-in base image (apt-get install debootstrap)" >&2; return 1; }
  echo "base image: building a local stand-in for $STANDIN_IMAGE (no registry reachable)"
  local r=$work/rootfs mirror node_bin node_prefix
  mirror=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  debootstrap --variant=minbase bookworm "$r" "$mirror" >/dev/null
  node_bin=$(readlink -f "$(command -v node)")
  node_prefix=$(dirname "$(dirname "$node_bin")")
  install -m755 "$node_bin" "$r/usr/local/bin/node"
  mkdir -p "$r/usr/local/lib/node_modules" "$r/usr/local/include" "$r/etc/ssl/certs"
  local npm_dir
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  cp -a "$npm_dir" "$r/usr/local/lib/node_modules/npm"
  if [ -d "$node_prefix/lib/node_modules/corepack" ]; then
    cp -a "$node_prefix/lib/node_modules/corepack" "$r/usr/local/lib/node_modules/"
    ln -s ../lib/node_modules/corepack/dist/corepack.js "$r/usr/local/bin/corepack"
  fi
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
  # node headers, where the official image has them (native addons build against them offline)
  cp -a "$node_prefix/include/node" "$r/usr/local/include/node"
  chroot "$r" useradd -u 1000 -U -m -s /bin/bash node
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/" # egress proxy CA for npm and apt
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*
  tar -C "$r" --numeric-owner -c . | podman import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'LABEL io.penguiflow.standin=true' \
    --change 'CMD ["node"]' - "$STANDIN_IMAGE" >/dev/null
  local t
  for t in 20 20-slim 20-bookworm; do podman tag "$STANDIN_IMAGE" "docker.io/library/node:$t"; done
  rm -rf "$r"
}
