#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds a release build and runs every benchmark registered with meson's
# benchmark() in it, then prints the table of their BENCH rows (Markdown,
# with the date and the machine) and writes it to a file.
#
#   bench/run-benchmarks.sh [--build-dir DIR] [--output FILE] [--update-readme] [NAME…]
#
# NAME… runs only those benchmarks (meson's names: pairing, sync, media,
# latency, idle, …). --update-readme also puts the table in README.md
# between the "benchmarks:begin" and "benchmarks:end" markers.
set -eu

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$source_dir/_build-release
output=
update_readme=no
while [ $# -gt 0 ]; do
    case $1 in
        --build-dir) build_dir=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        --update-readme) update_readme=yes; shift ;;
        -h|--help) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-benchmarks.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ -n "$output" ] || output=$build_dir/bench-results.md

if [ ! -f "$build_dir/build.ninja" ]; then
    meson setup "$build_dir" "$source_dir" -Dbuildtype=release
fi
ninja -C "$build_dir" -j"${JOBS:-2}"

exec python3 - "$build_dir" "$output" "$update_readme" "$source_dir/README.md" "$@" <<'EOF'
import datetime, json, os, platform, subprocess, sys

build_dir, output, update_readme, readme = sys.argv[1:5]
only = set(sys.argv[5:])

benchmarks = json.loads(subprocess.run(["meson", "introspect", "--benchmarks", build_dir],
                                       check=True, capture_output=True, text=True).stdout)
unknown = only - {b["name"] for b in benchmarks}
if unknown:
    sys.exit("run-benchmarks.sh: no benchmark named " + ", ".join(sorted(unknown)))

rows, notes, failed = [], [], False
for bench in benchmarks:
    name = bench["name"]
    if only and name not in only:
        continue
    if not os.path.exists(bench["cmd"][0]):
        notes.append(f"{name}: not built, skipped")
        print(f"== {name}: not built, skipped", flush=True)
        continue
    print(f"== {name}: {' '.join(bench['cmd'][1:])}", flush=True)
    env = dict(os.environ, **bench.get("env", {}))
    timeout = bench.get("timeout") or None
    try:
        run = subprocess.run(bench["cmd"], env=env, stdout=subprocess.PIPE, text=True, timeout=timeout,
                             cwd=bench.get("workdir") or build_dir)
        out, status = run.stdout, run.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        status = "timed out"
    for line in out.splitlines():
        if line.startswith("BENCH "):
            rows.append(json.loads(line[len("BENCH "):]))
        else:
            print("   " + line, flush=True)
    if status != 0:
        failed = True
        notes.append(f"{name}: failed ({status})")

def number(value):
    if value is None:
        return "—"
    value = float(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"

def cell(text):
    return str(text).replace("|", "\\|")

def machine():
    model, memory = platform.processor() or "unknown CPU", "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {memory} memory, {model}"

lines = [
    f"Measured {datetime.date.today().isoformat()} on {machine()}; {platform.system()} "
    f"{platform.release()}, release build (`bench/run-benchmarks.sh`).",
    "",
    "| row | what | ours | baseline | ratio | target | met |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]
for r in sorted(rows, key=lambda r: r["row"]):
    baseline = "—"
    if r.get("baseline") is not None:
        baseline = f"{number(r['baseline'])} {r['unit']}"
        if r.get("baseline_name"):
            baseline += f" ({r['baseline_name']})"
    lines.append("| " + " | ".join(cell(c) for c in [
        r["row"], r["name"], f"{number(r['value'])} {r['unit']}", baseline,
        number(r.get("ratio")), r["target"], "yes" if r["met"] else "**no**"]) + " |")
if notes:
    lines += [""] + [f"- {n}" for n in notes]
table = "\n".join(lines) + "\n"

print()
print(table, end="")
with open(output, "w") as f:
    f.write(table)
print(f"\nWritten to {output}")

if update_readme == "yes":
    begin, end = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"
    with open(readme) as f:
        text = f.read()
    if begin not in text or end not in text:
        sys.exit("run-benchmarks.sh: README.md has no benchmarks markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(readme, "w") as f:
        f.write(head + begin + "\n" + table + end + tail)
    print(f"Updated {readme}")

sys.exit(1 if failed else 0)
EOF
