#!/bin/sh
# kvm2.sh start|stop STATE_DIR -- a second KVM "host" on this machine for
# migration tests (PEERS.md): a libvirt daemon in its own network namespace
# (pvhostb, 10.99.0.2, joined to the root namespace's 10.99.0.1 by a veth
# pair this script creates) and its own mount namespace (run, lib, etc and
# log directories of its own under STATE_DIR), with a host UUID of its own
# and a storage pool "default" of its own (its /var/lib/libvirt/images).
# It listens for qemu+tcp on 10.99.0.2 only, and the first host's libvirtd
# (tests/peers/libvirtd.sh, STATE_DIR/hosta) on 10.99.0.1 only, both with
# auth_tcp = "none": a test rig, reachable from nowhere but this machine.
# stop ends them by PID and removes the namespace and the veth pair.
set -eu
cmd=$1
state=$(mkdir -p "$2" && cd "$2" && pwd)
NS=pvhostb

case "$cmd" in
start)
    ip netns add $NS
    ip link add pv-veth-a type veth peer name pv-veth-b
    ip link set pv-veth-b netns $NS
    ip addr add 10.99.0.1/24 dev pv-veth-a
    ip link set pv-veth-a up
    ip netns exec $NS ip addr add 10.99.0.2/24 dev pv-veth-b
    ip netns exec $NS ip link set pv-veth-b up
    ip netns exec $NS ip link set lo up
    sh "$(dirname "$0")/libvirtd.sh" start "$state/hosta" 10.99.0.1 >/dev/null
    B="$state/hostb"
    mkdir -p "$B/run" "$B/lib/images" "$B/log" "$B/etc" /var/lib/libvirt/images
    cp -a /etc/libvirt/. "$B/etc/"
    printf 'listen_tcp = 1\nlisten_tls = 0\nauth_tcp = "none"\nlisten_addr = "10.99.0.2"\nhost_uuid = "%s"\n' \
        "$(cat /proc/sys/kernel/random/uuid)" > "$B/etc/libvirtd.conf"
    ip netns exec $NS unshare -m --propagation private sh -c "
        mount --bind '$B/run' /run; mkdir -p /run/libvirt
        mount --bind '$B/lib' /var/lib/libvirt; mount --bind '$B/etc' /etc/libvirt
        mount --bind '$B/log' /var/log/libvirt
        /usr/sbin/virtlogd -d -p /run/virtlogd.pid
        exec /usr/sbin/libvirtd --listen -p /run/libvirtd.pid" >"$B/libvirtd.out" 2>&1 &
    echo $! > "$state/hostb.pid"
    for _ in $(seq 1 100); do
        virsh -c qemu+tcp://10.99.0.2/system version >/dev/null 2>&1 && break
        sleep 0.1
    done
    if ! virsh -c qemu+tcp://10.99.0.2/system version >/dev/null 2>&1; then
        echo "kvm2: the second libvirtd does not answer on 10.99.0.2" >&2
        exit 1
    fi
    # each host's own images directory as a "default" storage pool (transient:
    # it goes with the daemon), unless the host has one already
    for uri in qemu:///system qemu+tcp://10.99.0.2/system; do
        virsh -c "$uri" pool-info default >/dev/null 2>&1 ||
            virsh -c "$uri" pool-create-as default dir --target /var/lib/libvirt/images >/dev/null
    done
    ;;
stop)
    B="$state/hostb"
    [ -f "$B/run/virtlogd.pid" ] && kill "$(cat "$B/run/virtlogd.pid")" 2>/dev/null || true
    [ -f "$state/hostb.pid" ] && kill "$(cat "$state/hostb.pid")" 2>/dev/null || true
    rm -f "$state/hostb.pid"
    sleep 0.5
    ip link del pv-veth-a 2>/dev/null || true
    ip netns del $NS 2>/dev/null || true
    sh "$(dirname "$0")/libvirtd.sh" stop "$state/hosta"
    ;;
*)
    echo "usage: kvm2.sh start|stop STATE_DIR" >&2
    exit 2
    ;;
esac
