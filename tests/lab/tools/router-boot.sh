#!/bin/sh
# Power-on of a lab router, stage 2 (tests/lab/router.py runs it as PID 1 of the router's fresh pid,
# mount, uts and ipc namespaces, inside its network namespace): mount the router's root file system
# (the shared image under the router's own overlay, as OpenWrt mounts /rom under /overlay), give it
# its own /proc, /dev and /tmp and a read-only /sys, then hand PID 1 over to OpenWrt's procd.
# Nothing here may change the host: the router sees the host's kernel, so what would act on the
# kernel as a whole (the kernel log, non-network sysctls, /sys) is read-only or replaced.
# usage: router-boot.sh IMAGE DIR HOSTNAME   (DIR holds upper/, work/, root/, kmsg, console)
set -eu
image="$1" dir="$2" name="$3"
root="$dir/root"

mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=$image,upperdir=$dir/upper,workdir=$dir/work" "$root"
mount --bind "$image" "$root/rom"
mount -o remount,bind,ro "$root/rom"

mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
# /proc/sys is the host kernel's, except the network (this namespace's own) and the hostname (uts)
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
for own in net kernel/hostname kernel/domainname; do
	mount --bind "$root/proc/sys/$own" "$root/proc/sys/$own"
	mount -o remount,bind,rw "$root/proc/sys/$own"
done
# logd reads /proc/kmsg: that would take the host's kernel messages away from it
mount --bind /dev/null "$root/proc/kmsg"
if [ -e "$root/proc/sysrq-trigger" ]; then
	mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
	mount -o remount,bind,ro "$root/proc/sysrq-trigger"
fi
# mounted from inside the network namespace: /sys/class/net lists this router's devices only
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

mount -t tmpfs -o mode=0755,nosuid,size=1m tmpfs "$root/dev"
for node in null zero full random urandom tty; do
	: > "$root/dev/$node"
	mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir "$root/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
# procd's early messages (before logd runs) go to /dev/kmsg: here a FIFO the lab reads into a file
: > "$root/dev/kmsg"
mount --bind "$dir/kmsg" "$root/dev/kmsg"
: > "$root/dev/console"
mount --bind "$dir/console" "$root/dev/console"

# what procd's /sbin/init does before procd runs (initd/early.c)
mount -t tmpfs -o mode=1777,nosuid,nodev,noatime tmpfs "$root/tmp"
mkdir -m 1777 "$root/tmp/shm"
mkdir -m 0755 "$root/tmp/run" "$root/tmp/lock" "$root/tmp/state"
hostname "$name"

cd "$root"
pivot_root . mnt
exec /bin/busybox sh -c 'umount -l /mnt && exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin container=lab /sbin/procd'
