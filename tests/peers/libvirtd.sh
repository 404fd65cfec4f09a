#!/bin/sh
# libvirtd.sh start|stop STATE_DIR -- a real libvirt + QEMU/KVM daemon for the
# integration tests, without systemd (PEERS.md's recipe).
#   start: install the packages if missing, configure the qemu driver to run
#          guests as root without cgroups or namespaces (a test rig, not a
#          production set-up), start virtlogd and libvirtd with their PID files
#          in STATE_DIR, and wait until qemu:///system answers.  If a libvirtd
#          already answers there, it is used and left alone (no PID files).
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
    /usr/sbin/virtlogd -d -p "$state/virtlogd.pid"
    /usr/sbin/libvirtd -d -p "$state/libvirtd.pid"
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
