#!/usr/bin/env bash
# apt-get that waits for another apt process (unattended upgrades on a fresh machine) instead of failing on its lock,
# for up to APT_LOCK_WAIT_S seconds in all (default 600). DPkg::Lock::Timeout waits for the dpkg lock only; `update`
# takes the package lists' lock (/var/lib/apt/lists/lock) and `install` the archives' lock without waiting, and apt
# holds them with fcntl locks that flock(1) cannot wait on. So a run that fails on a lock is run again every
# APT_LOCK_RETRY_S seconds (default 10) until the time is up; any other failure is returned at once.
#   bash scripts/apt_wait.sh update -qq
#   DEBIAN_FRONTEND=noninteractive bash scripts/apt_wait.sh install -y -qq chromium
set -uo pipefail
WAIT_S=${APT_LOCK_WAIT_S:-600}
RETRY_S=${APT_LOCK_RETRY_S:-10}
deadline=$(( $(date +%s) + WAIT_S ))
err=$(mktemp)
trap 'rm -f "$err"' EXIT

while :; do
  left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 0 ] || left=0
  LC_ALL=C apt-get -o DPkg::Lock::Timeout="$left" "$@" 2>"$err"
  rc=$?
  if [ "$rc" = 0 ] || ! grep -Eq 'Could not get lock|Unable to (acquire|lock)' "$err"; then
    cat "$err" >&2
    exit "$rc"
  fi
  left=$(( deadline - $(date +%s) ))
  if [ "$left" -le 0 ]; then
    cat "$err" >&2
    echo "apt_wait: apt-get ${1:-}: a lock was still held after ${WAIT_S}s" >&2
    exit "$rc"
  fi
  echo "apt_wait: apt-get ${1:-}: another apt process holds a lock; trying again in ${RETRY_S}s (${left}s left)" >&2
  sleep "$(( RETRY_S < left ? RETRY_S : left ))"
done
