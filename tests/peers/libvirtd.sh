#!/bin/sh
# libvirtd.sh start|stop STATE_DIR [LISTEN_ADDR] -- a real libvirt + QEMU/KVM
# daemon for the integration tests, without systemd (PEERS.md's recipe).
#   start: install the packages if missing, configure the qemu driver to run
#          guests as root without cgroups or namespaces (a test rig, not a
#          production set-up), start virtlogd and libvirtd with their PID files
#          in STATE_DIR, and wait until qemu:///system answers.  If a libvirtd
#          already answers there, it is used and left alone (no PID files).
#          With LISTEN_ADDR (an address of a test network the caller made),
#          libvirtd also listens for qemu+tcp there, with auth_tcp = "none",
#          and keeps one host UUID across restarts (as a real host does; where
#          SMBIOS has none, libvirtd would make up a new one at each start).
#   stop:  end the daemons this script started, by PID.
set -eu
cmd=$1
state=$2
mkdir -p "$state"

case "$cmd" in
start)
    sh "$(dirname "$0")/../../scripts/deps.sh" kvm
    if virsh -c qemu:///system version >/dev/null 2>&1; then
        echo "libvirtd: using the one already running"
        exit 0
    fi
    getent group kvm >/dev/null || groupadd -r kvm
    # the qemu driver resolves its default user and group at start, before qemu.conf applies
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    id libvirt-qemu >/dev/null 2>&1 ||
        useradd -r -g kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
    mkdir -p /var/log/libvirt /run/libvirt /var/lib/libvirt
    conf=/etc/libvirt/qemu.conf
    if [ ! -f "$conf" ] || ! grep -q "polyvisor test rig" "$conf"; then
        [ -f "$conf" ] && cp -n "$conf" "$conf.before-polyvisor"
        printf '# polyvisor test rig (tests/peers/libvirtd.sh)\nuser = "root"\ngroup = "root"\ndynamic_ownership = 0\nremember_owner = 0\nnamespaces = []\ncgroup_controllers = []\n' > "$conf"
    fi
    [ -f "$state/virtlogd.pid" ] && kill -0 "$(cat "$state/virtlogd.pid")" 2>/dev/null ||
        /usr/sbin/virtlogd -d -p "$state/virtlogd.pid"
    if [ -n "${3:-}" ]; then
        [ -f "$state/host_uuid" ] || cat /proc/sys/kernel/random/uuid > "$state/host_uuid"
        printf 'listen_tcp = 1\nlisten_tls = 0\nauth_tcp = "none"\nlisten_addr = "%s"\nhost_uuid = "%s"\n' \
            "$3" "$(cat "$state/host_uuid")" > "$state/libvirtd.conf"
        /usr/sbin/libvirtd -d --listen -f "$state/libvirtd.conf" -p "$state/libvirtd.pid"
    else
        /usr/sbin/libvirtd -d -p "$state/libvirtd.pid"
    fi
    for _ in $(seq 1 100); do
        virsh -c qemu:///system version >/dev/null 2>&1 && exit 0
        sleep 0.1
    done
    echo "libvirtd: qemu:///system does not answer" >&2
    exit 1
    ;;
stop)
    for d in libvirtd virtlogd; do
        if [ -f "$state/$d.pid" ]; then
            kill "$(cat "$state/$d.pid")" 2>/dev/null || true
            rm -f "$state/$d.pid"
        fi
    done
    ;;
*)
    echo "usage: libvirtd.sh start|stop STATE_DIR" >&2
    exit 2
    ;;
esac
