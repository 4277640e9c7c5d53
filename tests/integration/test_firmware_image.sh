#!/usr/bin/env bash
# The SD card image script's own logic, fast (no mmdebstrap): `build-image
# --selftest` runs pvtap-firstboot against a fake /boot and /etc, customizes
# a tiny rootfs and makes a tiny image with genimage (no loop, no mount);
# then the image is inspected here: partitions (sfdisk -J), FAT files
# (mtools), root files (debugfs), and the inspection is shown to catch a
# missing enable link and a missing FAT file. The full image (25 minutes) is
# built by hand: firmware/image/build-image.
source "$(dirname "$0")/lib.sh"
: "${PVTAP_SRC:?}"
img_dir=$PVTAP_SRC/firmware/image

# genimage, mtools, dosfstools, fdisk are Debian packages
# (firmware/packages-build.txt); install them when missing and possible.
missing=()
for c in genimage:genimage mcopy:mtools mkdosfs:dosfstools sfdisk:fdisk debugfs:e2fsprogs mke2fs:e2fsprogs python3:python3; do
    command -v "${c%%:*}" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
done
export PATH=$PATH:/usr/sbin:/sbin
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$TMP/apt.log" 2>&1 || true
    fi
    for c in genimage:genimage mcopy:mtools mkdosfs:dosfstools sfdisk:fdisk debugfs:e2fsprogs mke2fs:e2fsprogs python3:python3; do
        need_tool "${c%%:*}" "${c#*:}"
    done
fi

# 1. The fast mode, timed.
t0=$(date +%s)
expect_rc 0 "build-image --selftest" -- "$img_dir/build-image" --selftest --pvtap "$PVTAP" --out "$TMP/img"
secs=$(($(date +%s) - t0))
sed 's/^/  | /' "$TMP/out" | grep -E 'FAIL|passed|failed' || true
[ "$secs" -lt 60 ] && ok "selftest took ${secs} s (< 60)" || not_ok "selftest took ${secs} s"
expect_grep "$TMP/out" '^test-firstboot: [0-9]+ checks, [0-9]+ passed, 0 failed$' "first-boot script: all its checks pass"
expect_grep "$TMP/out" '^inspect-image: [0-9]+ checks, [0-9]+ passed, 0 failed' "tiny image: all inspections pass"
img=$TMP/img/pvtap-selftest.img
[ -f "$img" ] || { not_ok "no tiny image"; finish; exit 1; }

# 2. The tiny image, looked at directly.
sfdisk -J "$img" >"$TMP/sfdisk.json"
python3 - "$TMP/sfdisk.json" >"$TMP/parts" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["partitiontable"]
print(t["label"], t["id"])
for p in t["partitions"]:
    print(p["start"], p["size"], p["type"], p.get("bootable", False))
EOF
expect_grep "$TMP/parts" '^dos 0x70767461$' "MBR with the image's disk identifier"
expect_grep "$TMP/parts" '^8192 [0-9]+ c True$' "partition 1: FAT32 (type c), bootable, at 4 MiB"
expect_grep "$TMP/parts" '^[0-9]+ [0-9]+ 83 False$' "partition 2: Linux (type 83)"
b_start=$(sed -n '2p' "$TMP/parts" | cut -d' ' -f1)
r_start=$(sed -n '3p' "$TMP/parts" | cut -d' ' -f1)
fat=$img@@$((b_start * 512))
ext="$img?offset=$((r_start * 512))"
export MTOOLS_SKIP_CHECK=1
mdir -b -i "$fat" ::/ >"$TMP/mdir" 2>&1 || true
for f in pvtap.conf pvtap-boot.conf cmdline.txt config.txt; do
    expect_grep "$TMP/mdir" "^::/$f\$" "FAT: $f (mdir)"
done
mtype -i "$fat" ::/cmdline.txt >"$TMP/cmdline" 2>&1 || true
expect_grep "$TMP/cmdline" 'root=LABEL=PVTAPROOT' "FAT: cmdline.txt root=LABEL=PVTAPROOT (mtype)"
mtype -i "$fat" ::/pvtap-boot.conf | tr -d '\r' >"$TMP/bootconf"
expect_grep "$TMP/bootconf" '^ssh=off$' "FAT: pvtap-boot.conf has SSH off"
debugfs -R 'stat /etc/systemd/system/multi-user.target.wants/pvtap.service' "$ext" >"$TMP/stat" 2>&1 || true
expect_grep "$TMP/stat" 'Type: symlink' "root: pvtap.service enable link (debugfs stat)"
expect_grep "$TMP/stat" 'Fast link dest: "/lib/systemd/system/pvtap.service"' "root: enable link points at the unit"
debugfs -R 'cat /etc/fstab' "$ext" >"$TMP/fstab" 2>&1 || true
expect_grep "$TMP/fstab" '^LABEL=PVTAPROOT +/ ' "root: fstab root by label (debugfs cat)"
expect_grep "$TMP/fstab" '^LABEL=PVTAPBOOT +/boot/firmware ' "root: fstab /boot/firmware by label"
debugfs -R 'cat /etc/systemd/system/pvtap-firstboot.service' "$ext" >"$TMP/fbunit" 2>&1 || true
expect_grep "$TMP/fbunit" '^ExecStart=/usr/local/sbin/pvtap-firstboot$' "root: first-boot unit runs the hook"
debugfs -R 'stat /etc/pvtap/pvtap.conf' "$ext" >"$TMP/confstat" 2>&1 || true
expect_grep "$TMP/confstat" 'Mode: +0640' "root: /etc/pvtap/pvtap.conf mode 0640"

# The first-boot unit is well formed (systemd-analyze, when there).
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$TMP/unit"
    sed "s#/usr/local/sbin/pvtap-firstboot#$img_dir/pvtap-firstboot#" "$img_dir/pvtap-firstboot.service" >"$TMP/unit/pvtap-firstboot.service"
    systemd-analyze verify --man=no "$TMP/unit/pvtap-firstboot.service" >"$TMP/v.out" 2>"$TMP/v.err" || true
    # Units it is ordered against may be absent on this machine: only its own keys count.
    if grep -v -e 'not found' -e 'ssh.service' -e 'wpa_supplicant' -e 'pvtap.service' "$TMP/v.err" | grep -q .; then
        not_ok "systemd-analyze verify pvtap-firstboot.service"; sed 's/^/  | /' "$TMP/v.err"
    else ok "systemd-analyze verify pvtap-firstboot.service: no complaint about the unit"; fi
fi

# 3. The inspection catches what is missing: a copy without the enable link
#    and without pvtap.conf on the FAT partition.
cp "$img" "$TMP/broken.img"
debugfs -w -R 'rm /etc/systemd/system/multi-user.target.wants/pvtap.service' "$TMP/broken.img?offset=$((r_start * 512))" >/dev/null 2>&1
mdel -i "$TMP/broken.img@@$((b_start * 512))" ::/pvtap.conf
expect_rc 1 "inspect-image fails on a broken image" -- "$img_dir/inspect-image" "$TMP/broken.img"
expect_grep "$TMP/out" '^FAIL root: pvtap.service not enabled' "inspect-image: reports the missing enable link"
expect_grep "$TMP/out" '^FAIL FAT: /pvtap.conf$' "inspect-image: reports the missing FAT file"

finish
