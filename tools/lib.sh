# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# tools/lib.sh: helpers shared by the tools/ scripts and tests/boot/run (source it).
# Sets ROOT (the repo root), BUILD, ELF, PROG; defines say, die, strip_console,
# need and qemu_cmd.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
ELF=${ELF:-$BUILD/mmuvisor.elf}
PROG=${0#"$ROOT"/}
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd

say() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { say "$1"; exit "${2:-1}"; }                # die MESSAGE [STATUS]

# strip_console [FILE]: the serial log without \r and ANSI escapes (OVMF and GRUB
# put both around the lines), so that markers can be matched with grep.
strip_console() { sed -e 's/\r//g' -e 's/\x1b\[[0-9;?=]*[A-Za-z]//g' "$@"; }

# need CMD...: fail with a hint when a host tool is missing.
need() {
	local c
	for c; do
		command -v "$c" >/dev/null || die "'$c' not found: run tools/deps" 64
	done
}

# qemu_cmd ACCEL ISO TMPDIR [EXTRA...]: fill the array QEMU with the command line
# that boots ISO under QEMU (ACCEL kvm or tcg) with CPUS, MEM and FIRMWARE from
# the environment. The serial port and any debug flags come in EXTRA. QEMU_MONITOR
# (a -monitor value, e.g. unix:FILE,server,nowait) gives it a monitor; none by default.
# shellcheck disable=SC2054   # the commas are inside QEMU option values
qemu_cmd() {
	local accel=$1 iso=$2 tmp=$3
	shift 3
	need qemu-system-x86_64
	QEMU=(qemu-system-x86_64 -smp "$CPUS" -m "$MEM" -display none -monitor "${QEMU_MONITOR:-none}"
	      -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04
	      -cdrom "$iso" -boot d)
	case $accel in
	kvm) QEMU+=(-accel kvm -cpu host) ;;
	tcg) QEMU+=(-accel tcg -cpu "${QEMU_CPU:-qemu64,+svm,+npt}") ;;
	*) die "qemu_cmd: bad accelerator '$accel'" 64 ;;
	esac
	if [[ -n ${NUMA:-} ]]; then # NUMA nodes: the CPUs and MiB split evenly, distance 21 between
		local n i j
		[[ $NUMA =~ ^[1-9][0-9]*$ ]] && ((CPUS % NUMA == 0 && MEM % NUMA == 0)) ||
			die "NUMA=$NUMA must divide CPUS=$CPUS and MEM=$MEM" 64
		for ((i = 0; i < NUMA; i++)); do
			n=$((CPUS / NUMA))
			local cpus="cpus=$((i * n))-$((i * n + n - 1))" c
			if [[ ${NUMA_SPREAD:-} == 1 ]]; then # round robin: node i has CPUs i, i + NUMA, ...
				cpus=
				for ((c = i; c < CPUS; c += NUMA)); do cpus+="${cpus:+,}cpus=$c"; done
			fi
			QEMU+=(-object "memory-backend-ram,id=numa$i,size=$((MEM / NUMA))M"
			       -numa "node,nodeid=$i,$cpus,memdev=numa$i")
		done
		for ((i = 0; i < NUMA; i++)); do
			for ((j = i + 1; j < NUMA; j++)); do
				QEMU+=(-numa "dist,src=$i,dst=$j,val=21")
			done
		done
	fi
	case $FIRMWARE in
	bios) ;;
	uefi)
		[[ -r $OVMF_CODE && -r $OVMF_VARS ]] || die "OVMF not found: run tools/deps" 64
		cp "$OVMF_VARS" "$tmp/OVMF_VARS.fd"
		QEMU+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
		       -drive "if=pflash,format=raw,unit=1,file=$tmp/OVMF_VARS.fd") ;;
	*) die "FIRMWARE must be bios or uefi, not '$FIRMWARE'" 64 ;;
	esac
	QEMU+=("$@")
}
